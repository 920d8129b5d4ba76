/**
 * The exactly-once checkpoint: the position of the last event in a committed Kafka
 * transaction, written in that same transaction. An event's position is its transaction's
 * commit LSN and its index in that transaction; Postgres replays transactions in the same
 * order with the same rows, so positions are stable across restarts.
 */
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

export function decodeCheckpoint(value: Buffer): Checkpoint {
  const parsed = JSON.parse(value.toString()) as { commitLsn?: unknown; index?: unknown };
  if (typeof parsed.commitLsn !== 'string' || typeof parsed.index !== 'number') {
    throw new Error(`not an outbox-relay checkpoint: ${value.toString().slice(0, 200)}`);
  }
  return { commitLsn: parseLsn(parsed.commitLsn), index: parsed.index };
}
