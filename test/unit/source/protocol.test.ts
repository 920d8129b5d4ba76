import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';
import { buildStatusUpdate, parseFrame } from '../../../src/source/protocol.ts';

const ABOVE_32_BITS = 0x16_b374_d848n;
/** 2026-11-22T03:00:05.123456Z, in Unix and in PostgreSQL microseconds. */
const INSTANT_UNIX_MICROS = 1_795_316_405_123_456n;
const INSTANT_PG_MICROS = 848_631_605_123_456n;

function xlogData(walStart: bigint, walEnd: bigint, body: Buffer): Buffer {
  const header = Buffer.alloc(25);
  header.write('w', 0, 'latin1');
  header.writeBigUInt64BE(walStart, 1);
  header.writeBigUInt64BE(walEnd, 9);
  header.writeBigInt64BE(INSTANT_PG_MICROS, 17);
  return Buffer.concat([header, body]);
}

function keepalive(walEnd: bigint, replyRequested: number): Buffer {
  const frame = Buffer.alloc(18);
  frame.write('k', 0, 'latin1');
  frame.writeBigUInt64BE(walEnd, 1);
  frame.writeBigInt64BE(INSTANT_PG_MICROS, 9);
  frame[17] = replyRequested;
  return frame;
}

test('parses an XLogData frame with LSNs above 2^32 and hands over the pgoutput body', () => {
  const body = Buffer.from('B…pgoutput', 'utf8');
  const frame = parseFrame(xlogData(ABOVE_32_BITS, ABOVE_32_BITS + 0x100n, body));
  assert.equal(frame.kind, 'xlog');
  assert.equal(frame.walStart, ABOVE_32_BITS);
  assert.equal(frame.walEnd, ABOVE_32_BITS + 0x100n);
  assert.ok(frame.kind === 'xlog' && frame.body.equals(body));
});

test('parses an XLogData frame with an empty body', () => {
  const frame = parseFrame(xlogData(1n, 2n, Buffer.alloc(0)));
  assert.equal(frame.kind === 'xlog' && frame.body.length, 0);
});

test('parses a keepalive with its WAL end above 2^32 and whether it asks for a reply', () => {
  assert.deepEqual(parseFrame(keepalive(ABOVE_32_BITS, 1)), {
    kind: 'keepalive',
    walEnd: ABOVE_32_BITS,
    replyRequested: true,
  });
  assert.deepEqual(parseFrame(keepalive(0xffff_ffff_ffff_ffffn, 0)), {
    kind: 'keepalive',
    walEnd: 0xffff_ffff_ffff_ffffn,
    replyRequested: false,
  });
});

test('rejects a frame of an unknown type, naming the type byte', () => {
  assert.throws(() => parseFrame(Buffer.from('x\0\0\0')), /unknown replication frame type 0x78/);
  assert.throws(() => parseFrame(Buffer.alloc(0)), /unknown replication frame type/);
});

test('builds a 34-byte standby status update reporting one LSN as written, flushed and applied', () => {
  const durable = lsnFromBigInt(ABOVE_32_BITS);
  const update = buildStatusUpdate(durable, INSTANT_UNIX_MICROS, false);
  assert.equal(update.length, 34);
  assert.equal(String.fromCharCode(update[0] ?? 0), 'r');
  assert.equal(update.readBigUInt64BE(1), ABOVE_32_BITS, 'written');
  assert.equal(update.readBigUInt64BE(9), ABOVE_32_BITS, 'flushed');
  assert.equal(update.readBigUInt64BE(17), ABOVE_32_BITS, 'applied');
  assert.equal(update.readBigInt64BE(25), INSTANT_PG_MICROS, 'client clock since 2000-01-01');
  assert.equal(update[33], 0);
});

test('sends the client clock as 0 at 2000-01-01 and sets the reply flag when asked', () => {
  const update = buildStatusUpdate(lsnFromBigInt(0n), 946_684_800_000_000n, true);
  assert.equal(update.readBigInt64BE(25), 0n);
  assert.equal(update[33], 1);
});
