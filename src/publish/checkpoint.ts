/**
 * The exactly-once checkpoint: the position of the last event in a committed Kafka
 * transaction, written in that same transaction. An event's position is its transaction's
 * commit LSN and its index in that transaction; Postgres replays transactions in the same
 * order with the same rows, so positions are stable across restarts.
 */
import { RelayError } from '../domain/errors.ts';
import { compareLsn, formatLsn, parseLsn, type Lsn } from '../domain/lsn.ts';
import type { ServerIdentity } from '../domain/server-identity.ts';

export interface Checkpoint {
  readonly commitLsn: Lsn;
  readonly index: number;
}

/** True when Kafka already holds the event at this position. */
export function coveredBy(position: Checkpoint, checkpoint: Checkpoint | null): boolean {
  if (!checkpoint) return false;
  const order = compareLsn(position.commitLsn, checkpoint.commitLsn);
  return order < 0 || (order === 0 && position.index <= checkpoint.index);
}

/**
 * The checkpoint's key: the database history and the slot, so that two databases (or two
 * clusters left on the default slot name, or a rebuilt database) never read each other's.
 */
export function checkpointKey(identity: ServerIdentity, slot: string): string {
  return `checkpoint/${identity.systemId}/${identity.database}/${slot}`;
}

/** The default transactional id: unique per database and slot, like the checkpoint's key. */
export function defaultTransactionalId(identity: ServerIdentity, slot: string): string {
  return `outbox-relay.${identity.systemId}.${identity.database}.${slot}`;
}

/** A checkpoint and the database history it was written on. */
export interface RecordedCheckpoint {
  readonly identity: ServerIdentity;
  readonly checkpoint: Checkpoint;
}

export function encodeCheckpoint(slot: string, recorded: RecordedCheckpoint): Buffer {
  const { systemId, timeline, database } = recorded.identity;
  const { commitLsn, index } = recorded.checkpoint;
  return Buffer.from(
    JSON.stringify({
      kind: 'checkpoint',
      systemId,
      timeline,
      database,
      slot,
      commitLsn: formatLsn(commitLsn),
      index,
    }),
  );
}

/** Where a checkpoint record was read: the checkpoint topic, its key, and the slot. */
export interface CheckpointSource {
  readonly topic: string;
  readonly key: string;
  readonly slot: string;
}

/**
 * The checkpoint in a record of the checkpoint topic. A record that is not one, or is another
 * slot's, is refused, not skipped: exactly-once skips what the checkpoint covers, so the relay
 * must not guess it. The error names the record and both ways out.
 */
export function decodeCheckpoint(value: Buffer, source: CheckpointSource): RecordedCheckpoint {
  const checkpoint = parseCheckpoint(value.toString(), source.slot);
  if (checkpoint === undefined) throw notACheckpoint(value, source);
  return checkpoint;
}

function parseCheckpoint(text: string, slot: string): RecordedCheckpoint | undefined {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const { kind, systemId, timeline, database, commitLsn, index } = parsed;
    if (kind !== 'checkpoint' || parsed.slot !== slot) return undefined;
    if (typeof systemId !== 'string' || typeof database !== 'string') return undefined;
    if (!Number.isSafeInteger(timeline) || (timeline as number) < 1) return undefined;
    if (typeof commitLsn !== 'string' || !Number.isSafeInteger(index)) return undefined;
    if ((index as number) < 0) return undefined;
    return {
      identity: { systemId, timeline: timeline as number, database },
      checkpoint: { commitLsn: parseLsn(commitLsn), index: index as number },
    };
  } catch {
    return undefined; // not JSON, or not an LSN
  }
}

function notACheckpoint(value: Buffer, { topic, key, slot }: CheckpointSource): RelayError {
  const shown = JSON.stringify(value.toString('latin1').slice(0, 120));
  const producer = `kafka-console-producer.sh --bootstrap-server <broker> --topic ${topic} --property parse.key=true --property key.separator=' '`;
  return new RelayError(
    'DECODE',
    `the latest record with key "${key}" in the checkpoint topic "${topic}" is not an ` +
      `outbox-relay checkpoint of slot "${slot}" (${value.length} bytes: ${shown}); exactly-once ` +
      'cannot tell which events Kafka already holds, so it does not start',
    {
      hint:
        `Something other than the relay wrote to ${topic} (RELAY_CHECKPOINT_TOPIC). Either ` +
        `write the last good checkpoint again (list them with kafka-console-consumer.sh ` +
        `--bootstrap-server <broker> --topic ${topic} --from-beginning --isolation-level ` +
        `read_committed --property print.key=true, and send the last line of key "${key}" ` +
        `that is {"kind":"checkpoint",...,"slot":"${slot}","commitLsn":...,"index":...} through: ${producer}); or delete ` +
        `the checkpoint with a tombstone (printf '${key}:' | kcat -P -b <broker> -t ${topic} -K: -Z), ` +
        'after which the relay resumes from the slot and may publish once more the events ' +
        'Kafka held beyond what the slot had confirmed.',
    },
  );
}

/**
 * A checkpoint that does not belong to this database's history (restored from a backup, or a
 * checkpoint written by hand): using it could skip events this database never sent.
 */
export function foreignCheckpoint(
  recorded: RecordedCheckpoint,
  server: ServerIdentity & { readonly flushLsn: Lsn },
  reason: string,
  { topic, key }: CheckpointSource,
): RelayError {
  const was = recorded.identity;
  return new RelayError(
    'CHECKPOINT_MISMATCH',
    `the exactly-once checkpoint under key "${key}" in "${topic}" does not belong to this ` +
      `database's history: ${reason}. It was written at ${formatLsn(recorded.checkpoint.commitLsn)} ` +
      `on system ${was.systemId}, timeline ${was.timeline}, database "${was.database}"; this ` +
      `server is system ${server.systemId}, timeline ${server.timeline}, database ` +
      `"${server.database}", its WAL ends at ${formatLsn(server.flushLsn)}. Skipping what it ` +
      'covers could lose events this database has not sent, so the relay does not start',
    {
      hint:
        'If the database was restored or rebuilt and its events should all be published from ' +
        'the slot, set RELAY_CHECKPOINT_MISMATCH=ignore (consumers may then read events of the ' +
        `old history and of the new one at the same positions), or delete the checkpoint with a ` +
        `tombstone (printf '${key}:' | kcat -P -b <broker> -t ${topic} -K: -Z). If the relay ` +
        'points at the wrong database, correct RELAY_PG_URL.',
    },
  );
}
