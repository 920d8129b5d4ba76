/**
 * PostgreSQL counts timestamps in microseconds since 2000-01-01T00:00:00Z, not the Unix epoch:
 * replication frames (source/protocol.ts) and pgoutput commit times (decode/pgoutput.ts) both
 * carry them.
 */

/** Microseconds between the Unix epoch and the PostgreSQL epoch, 2000-01-01T00:00:00Z. */
export const PG_EPOCH_UNIX_MICROS = BigInt(Date.UTC(2000, 0, 1)) * 1000n;

export function unixMicrosToPg(unixMicros: bigint): bigint {
  return unixMicros - PG_EPOCH_UNIX_MICROS;
}

export function pgMicrosToUnix(pgMicros: bigint): bigint {
  return pgMicros + PG_EPOCH_UNIX_MICROS;
}
