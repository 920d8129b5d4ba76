import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flushReaches } from '../../../src/admin/offsets.ts';
import { parseLsn } from '../../../src/domain/lsn.ts';

const WAL = { block: 8192n, segment: 16n * 1024n * 1024n };
const at = (text: string) => parseLsn(text);

test('a flush at or past the target reaches it', () => {
  assert.equal(flushReaches(at('0/13602018'), at('0/13602018'), WAL), true);
  assert.equal(flushReaches(at('0/13603000'), at('0/13602018'), WAL), true);
});

test('idle server: only a page header lies between the flushed page start and the target', () => {
  // CI of stop 18: pg_current_wal_insert_lsn() 0/13602018, pg_current_wal_flush_lsn() 0/13602000
  assert.equal(flushReaches(at('0/13602000'), at('0/13602018'), WAL), true);
  // a segment's first page carries the long header (40 bytes)
  assert.equal(flushReaches(at('0/14000000'), at('0/14000028'), WAL), true);
});

test('a flush short of WAL the target covers does not reach it', () => {
  // a record continued onto the page ends past its short header
  assert.equal(flushReaches(at('0/13602000'), at('0/13602028'), WAL), false);
  // the long header counts only on a segment's first page
  assert.equal(flushReaches(at('0/13602000'), at('0/13602020'), WAL), false);
  assert.equal(flushReaches(at('0/14000000'), at('0/14000018'), WAL), false);
  assert.equal(flushReaches(at('0/13601FF0'), at('0/13602018'), WAL), false);
  assert.equal(flushReaches(at('0/13601000'), at('0/13601800'), WAL), false);
});
