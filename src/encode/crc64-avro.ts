/**
 * CRC-64-AVRO, the Rabin fingerprint the Avro specification uses to name a schema in single-object
 * encoding. avsc only offers md5 and sha256, so it lives here. Computed once per schema at start,
 * so plain bigint arithmetic is fast enough.
 */

/** The fingerprint of the empty input; also the polynomial (the Avro specification's EMPTY). */
export const CRC64_AVRO_EMPTY = 0xc15d213aa4d7a795n;

const TABLE: readonly bigint[] = Array.from({ length: 256 }, (_, index) => {
  let fp = BigInt(index);
  for (let bit = 0; bit < 8; bit++) {
    fp = (fp >> 1n) ^ (CRC64_AVRO_EMPTY & -(fp & 1n));
  }
  return fp;
});

/** The unsigned 64-bit fingerprint of `data` (a string is taken as its UTF-8 bytes). */
export function crc64Avro(data: string | Uint8Array): bigint {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fp = CRC64_AVRO_EMPTY;
  for (const byte of bytes) {
    fp = (fp >> 8n) ^ (TABLE[Number((fp ^ BigInt(byte)) & 0xffn)] as bigint);
  }
  return fp;
}
