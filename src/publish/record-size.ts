/**
 * How many bytes a record takes in a Kafka record batch (message format v2, uncompressed, as
 * the relay sends it), which is what a topic's `max.message.bytes` (by default the broker's
 * `message.max.bytes`) limits: the whole batch one partition receives in one request.
 *
 * The timestamp and offset deltas depend on the rest of the batch; they are counted at their
 * largest likely size, so the estimate errs by a few bytes on the side of a smaller batch.
 */
import type { KafkaRecord } from './kafka.ts';

/** What the size depends on; a record not yet sealed has its final size already. */
type SizedRecord = Pick<KafkaRecord, 'headers'> & {
  readonly key: string | Buffer | null;
  readonly value: Buffer;
};

/** baseOffset, length, leader epoch, magic, crc, attributes, last offset delta, timestamps,
 * producer id and epoch, base sequence, record count. */
export const RECORD_BATCH_OVERHEAD = 61;

/** A timestamp delta under ~17 minutes and an offset delta under ~1 million fit in 3 bytes. */
const DELTAS = 3 + 3;

/** Bytes of a zigzag varint. */
export function varintBytes(n: number): number {
  let zigzag = n >= 0 ? n * 2 : -n * 2 - 1;
  let bytes = 1;
  while (zigzag >= 128) {
    zigzag = Math.floor(zigzag / 128);
    bytes++;
  }
  return bytes;
}

function field(length: number): number {
  return varintBytes(length) + Math.max(0, length);
}

export function recordBytes(record: SizedRecord): number {
  const key = record.key === null ? -1 : Buffer.byteLength(record.key);
  const headers = Object.entries(record.headers);
  let body = 1 + DELTAS + field(key) + field(record.value.length) + varintBytes(headers.length);
  for (const [name, value] of headers) {
    body += field(Buffer.byteLength(name)) + field(Buffer.byteLength(value));
  }
  return varintBytes(body) + body;
}

/** Whether one record alone fits under a topic's limit. */
export function fitsAlone(record: SizedRecord, limit: number) {
  return RECORD_BATCH_OVERHEAD + recordBytes(record) <= limit;
}
