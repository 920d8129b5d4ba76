/**
 * A PostgreSQL log sequence number: a 64-bit byte position in the WAL.
 *
 * Kept as a bigint, never a string: Postgres spells the same LSN `0/1504748` or
 * `00000000/01504958`, and string comparison of either spelling is wrong across the 32-bit
 * boundary. Parse at the edge, compare and format here.
 */
export type Lsn = bigint & { readonly __brand: 'Lsn' };

export const INVALID_LSN = 0n as Lsn;
const MAX_LSN = (1n << 64n) - 1n;
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

export function lsnFromBigInt(value: bigint): Lsn {
  if (value < 0n || value > MAX_LSN) {
    throw new RangeError(`LSN out of range: ${value}`);
  }
  return value as Lsn;
}

/** Parses `X/Y` (either spelling) as Postgres prints it. */
export function parseLsn(text: string): Lsn {
  const match = LSN_TEXT.exec(text.trim());
  if (!match) {
    throw new SyntaxError(`not an LSN: "${text}" (expected hex "XXXXXXXX/YYYYYYYY")`);
  }
  const [, high, low] = match as unknown as [string, string, string];
  return ((BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`)) as Lsn;
}

/** Formats as Postgres does (`16/B374D848`), accepted by pg_lsn and START_REPLICATION. */
export function formatLsn(lsn: Lsn): string {
  const high = (lsn >> 32n).toString(16).toUpperCase();
  const low = (lsn & 0xffffffffn).toString(16).toUpperCase();
  return `${high}/${low}`;
}

export function compareLsn(a: Lsn, b: Lsn): -1 | 0 | 1 {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a >= b ? a : b;
}

/** Reads an LSN written as a big-endian uint64 in a protocol message. */
export function readLsn(buffer: Buffer, offset: number): Lsn {
  return buffer.readBigUInt64BE(offset) as Lsn;
}
