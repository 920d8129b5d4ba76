import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  pgMicrosToUnix,
  PG_EPOCH_UNIX_MICROS,
  unixMicrosToPg,
} from '../../../src/domain/pg-epoch.ts';

/** 2026-11-22T03:00:05.123456Z, in Unix and in PostgreSQL microseconds. */
const INSTANT_UNIX_MICROS = 1_795_316_405_123_456n;
const INSTANT_PG_MICROS = 848_631_605_123_456n;

test('names the PostgreSQL epoch, 2000-01-01T00:00:00Z, in Unix microseconds', () => {
  assert.equal(PG_EPOCH_UNIX_MICROS, 946_684_800_000_000n);
  assert.equal(pgMicrosToUnix(INSTANT_PG_MICROS), INSTANT_UNIX_MICROS);
  assert.equal(unixMicrosToPg(INSTANT_UNIX_MICROS), INSTANT_PG_MICROS);
});
