import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareLsn, formatLsn, lsnFromBigInt, maxLsn, parseLsn } from '../../../src/domain/lsn.ts';

test('parses both spellings Postgres uses to the same LSN', () => {
  assert.equal(parseLsn('0/1504748'), parseLsn('00000000/01504748'));
  assert.equal(parseLsn('0/1504748'), 0x1504748n);
});

test('formats an LSN as Postgres prints it', () => {
  assert.equal(formatLsn(parseLsn('00000016/0B374D848'.replace('0B', 'B'))), '16/B374D848');
  assert.equal(formatLsn(lsnFromBigInt(0n)), '0/0');
});

test('round-trips LSNs across the 32-bit boundary', () => {
  for (const text of ['0/FFFFFFFF', '1/0', '1/1', 'FFFFFFFF/FFFFFFFF', 'A/0']) {
    assert.equal(formatLsn(parseLsn(text)), text);
  }
  assert.equal(parseLsn('1/0'), 1n << 32n);
});

test('compares LSNs numerically, not as text, across the 32-bit boundary', () => {
  const below = parseLsn('0/FFFFFFFF');
  const above = parseLsn('1/0');
  assert.equal(compareLsn(below, above), -1);
  assert.equal(compareLsn(above, below), 1);
  assert.equal(compareLsn(above, parseLsn('00000001/00000000')), 0);
  // As strings "0/FFFFFFFF" > "1/0" is false but "9/0" > "10/0" is true: text order is wrong.
  assert.equal(compareLsn(parseLsn('9/0'), parseLsn('10/0')), -1);
  assert.equal(maxLsn(below, above), above);
});

test('rejects text that is not an LSN, naming it', () => {
  assert.throws(() => parseLsn('16-B374D848'), /not an LSN: "16-B374D848"/);
  assert.throws(() => parseLsn('123456789/0'), /not an LSN/);
  assert.throws(() => lsnFromBigInt(-1n), RangeError);
  assert.throws(() => lsnFromBigInt(1n << 64n), RangeError);
});
