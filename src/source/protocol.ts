/**
 * The streaming replication sub-protocol carried in CopyData messages (PostgreSQL docs,
 * "Streaming Replication Protocol"). Pure: bytes in, values out, and back.
 */
import { parseLsn, readLsn, type Lsn } from '../domain/lsn.ts';
import { unixMicrosToPg } from '../domain/pg-epoch.ts';

export const XLOG_DATA = 0x77; // 'w'
export const PRIMARY_KEEPALIVE = 0x6b; // 'k'
export const STANDBY_STATUS_UPDATE = 0x72; // 'r'

/** 'w' header: kind, walStart, walEnd, sendTime; the pgoutput message follows. */
const XLOG_DATA_HEADER_BYTES = 25;
const STATUS_UPDATE_BYTES = 34;

export interface XLogData {
  readonly kind: 'xlog';
  readonly walStart: Lsn;
  /** The server's current end of WAL as sent so far; everything before it was decoded. */
  readonly walEnd: Lsn;
  readonly body: Buffer;
}

export interface Keepalive {
  readonly kind: 'keepalive';
  readonly walEnd: Lsn;
  /** The server wants a status update now, or it will drop us at wal_sender_timeout. */
  readonly replyRequested: boolean;
}

export type ReplicationFrame = XLogData | Keepalive;

export function parseFrame(chunk: Buffer): ReplicationFrame {
  switch (chunk[0]) {
    case XLOG_DATA:
      return {
        kind: 'xlog',
        walStart: readLsn(chunk, 1),
        walEnd: readLsn(chunk, 9),
        body: chunk.subarray(XLOG_DATA_HEADER_BYTES),
      };
    case PRIMARY_KEEPALIVE:
      return { kind: 'keepalive', walEnd: readLsn(chunk, 1), replyRequested: chunk[17] === 1 };
    default:
      throw new Error(`unknown replication frame type 0x${(chunk[0] ?? 0).toString(16)}`);
  }
}

/**
 * A standby status update. We report the same LSN as written, flushed and applied: for a
 * logical slot only `flush` moves confirmed_flush_lsn, and it must only ever be an LSN that
 * Kafka already holds.
 */
export function buildStatusUpdate(durable: Lsn, nowUnixMicros: bigint, replyRequested: boolean) {
  const buffer = Buffer.alloc(STATUS_UPDATE_BYTES);
  buffer[0] = STANDBY_STATUS_UPDATE;
  buffer.writeBigUInt64BE(durable, 1);
  buffer.writeBigUInt64BE(durable, 9);
  buffer.writeBigUInt64BE(durable, 17);
  buffer.writeBigInt64BE(unixMicrosToPg(nowUnixMicros), 25);
  buffer[33] = replyRequested ? 1 : 0;
  return buffer;
}

/**
 * The content of a timeline history file: one line per ancestor timeline, "<timeline> <tab>
 * <switch point> <tab> <reason>". Comment and blank lines are skipped.
 */
export function parseTimelineHistory(content: string): Map<number, Lsn> {
  const history = new Map<number, Lsn>();
  for (const line of content.split('\n')) {
    const [timeline, switchPoint] = line.trim().split(/\s+/);
    if (!timeline || !switchPoint || timeline.startsWith('#')) continue;
    history.set(Number(timeline), parseLsn(switchPoint));
  }
  return history;
}
