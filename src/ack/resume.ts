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
 * rebuilt cluster gets a new one), the same database, and a position the server has already
 * written (a cluster restored from a backup can be behind it). A position of an older timeline
 * (a promoted standby shares the system identifier but starts a new timeline, and the old
 * timeline's last transactions may never have reached it) counts only up to where that timeline
 * left the server's history. Otherwise the slot's position is used and nothing is skipped: at
 * worst duplicates, never a gap. The exactly-once checkpoint goes through the same judgement.
 */
import { formatLsn, parseLsn, type Lsn } from '../domain/lsn.ts';
import type { ServerIdentity } from '../domain/server-identity.ts';

export type { ServerIdentity };

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
  /** Set when the durable position was cut back to where its timeline left this history. */
  readonly capped?: Capped;
}

/** A position of an older timeline, cut back to where that timeline left the server's history. */
export interface Capped {
  readonly timeline: number;
  readonly switchLsn: Lsn;
}

/**
 * Where each ancestor timeline of the server's current timeline ended (its switch point), from
 * the server's timeline history file (TIMELINE_HISTORY). Empty on timeline 1.
 */
export type TimelineHistory = ReadonlyMap<number, Lsn>;

/**
 * How far a position recorded by an earlier relay may be trusted on this server:
 * - `same`: the same history up to the position, which is usable as it is;
 * - `capped`: written on an older timeline that left this history before the position (an
 *   asynchronous standby was promoted without the old primary's last transactions): usable only
 *   up to the switch point, because past it this server has other transactions;
 * - `foreign`: another cluster, database or history (a restore from a backup), or ahead of the
 *   server's WAL: nothing in it says what this server's transactions are.
 */
export type HistoryVerdict =
  | { readonly kind: 'same'; readonly lsn: Lsn }
  | { readonly kind: 'capped'; readonly lsn: Lsn; readonly capped: Capped }
  | { readonly kind: 'foreign'; readonly reason: string };

export function judgeHistory(
  known: DurablePosition,
  server: ServerIdentity & { readonly flushLsn: Lsn },
  history: TimelineHistory | null,
): HistoryVerdict {
  const was = known.identity;
  const foreign = (reason: string): HistoryVerdict => ({ kind: 'foreign', reason });
  if (was.systemId !== server.systemId)
    return foreign(
      `the database system identifier changed from ${was.systemId} to ${server.systemId}`,
    );
  if (was.database !== server.database)
    return foreign(`the database changed from "${was.database}" to "${server.database}"`);
  if (was.timeline > server.timeline)
    return foreign(
      `it was written on timeline ${was.timeline}, and the server is on the earlier timeline ${server.timeline} (restored from a backup?)`,
    );
  const pastWal = (lsn: Lsn) =>
    foreign(
      `the server's WAL ends at ${formatLsn(server.flushLsn)}, before ${formatLsn(lsn)} (restored from a backup?)`,
    );
  if (was.timeline === server.timeline)
    return known.lsn > server.flushLsn ? pastWal(known.lsn) : { kind: 'same', lsn: known.lsn };
  // An ancestor timeline: the server's history left it at its switch point, so a position past
  // that point (and past the server's WAL, as it usually is) counts only up to it.
  const switchLsn = history?.get(was.timeline);
  if (switchLsn === undefined)
    return foreign(
      `timeline ${was.timeline} is not in the history of the server's timeline ${server.timeline}`,
    );
  if (switchLsn > server.flushLsn) return pastWal(switchLsn);
  if (known.lsn <= switchLsn) return { kind: 'same', lsn: known.lsn };
  return { kind: 'capped', lsn: switchLsn, capped: { timeline: was.timeline, switchLsn } };
}

export function planResume(
  slotLsn: Lsn,
  server: ServerIdentity & { readonly flushLsn: Lsn },
  known: DurablePosition | null,
  history: TimelineHistory | null = null,
): ResumePlan {
  if (!known) return { startLsn: slotLsn, ignored: null };
  const verdict = judgeHistory(known, server, history);
  if (verdict.kind === 'foreign') return { startLsn: slotLsn, ignored: verdict.reason };
  const startLsn = verdict.lsn > slotLsn ? verdict.lsn : slotLsn;
  return verdict.kind === 'capped'
    ? { startLsn, ignored: null, capped: verdict.capped }
    : { startLsn, ignored: null };
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
