/**
 * The exactly-once checkpoint: the position of the last event in a committed Kafka
 * transaction, written in that same transaction. An event's position is its transaction's
 * commit LSN and its index in that transaction; Postgres replays transactions in the same
 * order with the same rows, so positions are stable across restarts.
 */
import { RelayError } from '../domain/errors.ts';
import { compareLsn, formatLsn, parseLsn, type Lsn } from '../domain/lsn.ts';

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

export function encodeCheckpoint(slot: string, checkpoint: Checkpoint): Buffer {
  return Buffer.from(
    JSON.stringify({ slot, commitLsn: formatLsn(checkpoint.commitLsn), index: checkpoint.index }),
  );
}

/** Where a checkpoint record was read: the checkpoint topic and the slot it is keyed by. */
export interface CheckpointSource {
  readonly topic: string;
  readonly key: string;
}

/**
 * The checkpoint in a record of the checkpoint topic. A record that is not one, or is another
 * slot's, is refused, not skipped: exactly-once skips what the checkpoint covers, so the relay
 * must not guess it. The error names the record and both ways out.
 */
export function decodeCheckpoint(value: Buffer, source: CheckpointSource): Checkpoint {
  const checkpoint = parseCheckpoint(value.toString(), source.key);
  if (checkpoint === undefined) throw notACheckpoint(value, source);
  return checkpoint;
}

function parseCheckpoint(text: string, slot: string): Checkpoint | undefined {
  try {
    const parsed = JSON.parse(text) as { slot?: unknown; commitLsn?: unknown; index?: unknown };
    const { commitLsn, index } = parsed;
    if (parsed.slot !== undefined && parsed.slot !== slot) return undefined;
    if (typeof commitLsn !== 'string' || !Number.isSafeInteger(index)) return undefined;
    if ((index as number) < 0) return undefined;
    return { commitLsn: parseLsn(commitLsn), index: index as number };
  } catch {
    return undefined; // not JSON, or not an LSN
  }
}

function notACheckpoint(value: Buffer, { topic, key }: CheckpointSource): RelayError {
  const shown = JSON.stringify(value.toString('latin1').slice(0, 120));
  const producer = `kafka-console-producer.sh --bootstrap-server <broker> --topic ${topic} --property parse.key=true --property key.separator=' '`;
  return new RelayError(
    'DECODE',
    `the latest record with key "${key}" in the checkpoint topic "${topic}" is not an ` +
      `outbox-relay checkpoint of slot "${key}" (${value.length} bytes: ${shown}); exactly-once ` +
      'cannot tell which events Kafka already holds, so it does not start',
    {
      hint:
        `Something other than the relay wrote to ${topic} (RELAY_CHECKPOINT_TOPIC). Either ` +
        `write the last good checkpoint again (list them with kafka-console-consumer.sh ` +
        `--bootstrap-server <broker> --topic ${topic} --from-beginning --isolation-level ` +
        `read_committed --property print.key=true, and send the last line of key "${key}" ` +
        `that is {"slot":"${key}","commitLsn":...,"index":...} through: ${producer}); or delete ` +
        `the checkpoint with a tombstone (printf '${key}:' | kcat -P -b <broker> -t ${topic} -K: -Z), ` +
        'after which the relay resumes from the slot and may publish once more the events ' +
        'Kafka held beyond what the slot had confirmed.',
    },
  );
}
