/**
 * Where a new replication session resumes: the later of the slot's confirmed position and the
 * relay's own durable position, when the latter belongs to this database's history.
 *
 * Why the slot alone is not enough: Postgres writes a logical slot to disk at checkpoints, and
 * before PostgreSQL 17 not at all when only its confirmed position moved. After a fast restart
 * (before 17) or a crash (every version) the slot offers a position from its last save, and
 * Postgres streams again what Kafka already holds. The relay's durable position, every event of
 * which Kafka has acknowledged, is then ahead, and transactions that commit before it are
 * dropped instead of being sent twice.
 *
 * The durable position is trusted only for the same history: the same system identifier (a
 * rebuilt or restored cluster gets a new one), the same database, the same timeline (a promoted
 * standby shares the system identifier but starts a new timeline, and the old timeline's last
 * transactions may never have reached it), and a position the server has already written (a
 * cluster restored from a backup can be behind it). Otherwise the slot's position is used and
 * nothing is skipped: at worst duplicates, never a gap.
 */
import { formatLsn, parseLsn, type Lsn } from '../domain/lsn.ts';

/** What IDENTIFY_SYSTEM says about the server a session streams from. */
export interface ServerIdentity {
  readonly systemId: string;
  readonly timeline: number;
  readonly database: string;
}

/** A position Kafka holds everything before, and the history it belongs to. */
export interface DurablePosition {
  readonly identity: ServerIdentity;
  readonly lsn: Lsn;
}

export interface ResumePlan {
  /**
   * The tracker's first durable position, reported to the slot at once. Transactions that
   * commit below it are already in Kafka: dropped and counted, not sent again (Postgres itself
   * skips those below the slot's position).
   */
  readonly startLsn: Lsn;
  /** Why the relay's durable position was not used, when there was one. */
  readonly ignored: string | null;
}

export function planResume(
  slotLsn: Lsn,
  server: ServerIdentity & { readonly flushLsn: Lsn },
  known: DurablePosition | null,
): ResumePlan {
  if (!known) return { startLsn: slotLsn, ignored: null };
  const mismatch = historyMismatch(known, server);
  if (mismatch) return { startLsn: slotLsn, ignored: mismatch };
  return { startLsn: known.lsn > slotLsn ? known.lsn : slotLsn, ignored: null };
}

function historyMismatch(
  known: DurablePosition,
  server: ServerIdentity & { readonly flushLsn: Lsn },
): string | null {
  const was = known.identity;
  if (was.systemId !== server.systemId)
    return `the database system identifier changed from ${was.systemId} to ${server.systemId}`;
  if (was.database !== server.database)
    return `the database changed from "${was.database}" to "${server.database}"`;
  if (was.timeline !== server.timeline)
    return `the timeline changed from ${was.timeline} to ${server.timeline} (a promoted standby)`;
  if (known.lsn > server.flushLsn)
    return `the server's WAL ends at ${formatLsn(server.flushLsn)}, before ${formatLsn(known.lsn)} (restored from a backup?)`;
  return null;
}

/**
 * The durable position as kept in Kafka's compacted checkpoint topic, so that it outlives the
 * relay too (a relay restarted while Postgres is down). The key names the history and the slot,
 * so that two databases, or two slots, never read each other's position.
 */
export function positionKey(identity: ServerIdentity, slot: string): string {
  return `position/${identity.systemId}/${identity.database}/${slot}`;
}

export function encodePosition(position: DurablePosition, slot: string): Buffer {
  const { systemId, timeline, database } = position.identity;
  return Buffer.from(
    JSON.stringify({
      kind: 'position',
      systemId,
      timeline,
      database,
      slot,
      lsn: formatLsn(position.lsn),
    }),
  );
}

/** Null for a value that is not a position of this slot: it is then not used, never guessed at. */
export function decodePosition(value: Buffer, slot: string): DurablePosition | null {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(value.toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  const { kind, systemId, timeline, database, lsn } = parsed;
  if (kind !== 'position' || parsed.slot !== slot) return null;
  if (typeof systemId !== 'string' || typeof database !== 'string') return null;
  if (typeof timeline !== 'number' || typeof lsn !== 'string') return null;
  try {
    return { identity: { systemId, timeline, database }, lsn: parseLsn(lsn) };
  } catch {
    return null;
  }
}
