import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeIdleSlotTimeout, judgeWalKeepSize } from '../../../src/admin/doctor.ts';

test('an unlimited max_slot_wal_keep_size is a warning that names the disk risk and what to set', () => {
  const finding = judgeWalKeepSize(-1);
  assert.equal(finding.status, 'warn');
  assert.match(finding.detail, /max_slot_wal_keep_size = -1 \(unlimited\).*disk is full/);
  assert.match(finding.fix ?? '', /ALTER SYSTEM SET max_slot_wal_keep_size = '<size/);
  assert.match(finding.fix ?? '', /PG_SLOT_INVALIDATED/);
  assert.equal(judgeWalKeepSize(10_240).status, 'ok');
  assert.match(judgeWalKeepSize(10_240).detail, /10\.0 GiB|10 GiB|10240/);
});

test('idle_replication_slot_timeout above 0 on PostgreSQL 18 is a warning that says to set 0', () => {
  const finding = judgeIdleSlotTimeout(18, 3600);
  assert.equal(finding.status, 'warn');
  assert.match(finding.detail, /idle_replication_slot_timeout = 3600s/);
  assert.match(finding.fix ?? '', /ALTER SYSTEM SET idle_replication_slot_timeout = 0;/);
  assert.equal(judgeIdleSlotTimeout(18, 0).status, 'ok');
  assert.equal(judgeIdleSlotTimeout(17, null).status, 'ok', 'before 18 the setting does not exist');
});
