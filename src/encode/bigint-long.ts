/**
 * The Avro `long` as an exact JS bigint. avsc's own long is a JS number and refuses values past
 * 2^53 ("potential precision loss"); microsecond timestamps are already past it (2^53 us is 2255).
 */
import avro from 'avsc';

const MIN_LONG = -(1n << 63n);
const MAX_LONG = (1n << 63n) - 1n;

// One scratch buffer: avsc packs it into the output synchronously and never keeps it.
const longScratch = Buffer.alloc(8);

/** True for a bigint that fits a signed 64-bit Avro long. */
export function isLong(value: unknown): value is bigint {
  return typeof value === 'bigint' && value >= MIN_LONG && value <= MAX_LONG;
}

/** avsc hands this type the long's 8 little-endian two's-complement bytes and packs them. */
export const bigintLongType = avro.types.LongType.__with({
  fromBuffer: (bytes: Buffer): bigint => bytes.readBigInt64LE(0),
  toBuffer: (value: bigint): Buffer => {
    longScratch.writeBigInt64LE(value);
    return longScratch;
  },
  fromJSON: (value: number | string | bigint): bigint => BigInt(value),
  // JSON has no 64-bit integers: a number while exact, the decimal digits beyond.
  toJSON: (value: bigint): number | string =>
    Number.isSafeInteger(Number(value)) ? Number(value) : value.toString(),
  isValid: isLong,
  compare: (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0),
});

/** True for `"long"` or `{"type": "long", ...}`, the two spellings of a long schema. */
export function isLongSchema(schema: unknown): boolean {
  if (schema === 'long') {
    return true;
  }
  return (
    typeof schema === 'object' && schema !== null && 'type' in schema && schema.type === 'long'
  );
}
