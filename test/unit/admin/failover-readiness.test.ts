import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  failoverReadiness,
  type PrimaryFacts,
  type StandbyFacts,
} from '../../../src/admin/failover-readiness.ts';

const primary: PrimaryFacts = {
  major: 17,
  slotFailover: true,
  synchronizedStandbySlots: 'standby1',
  physicalSlots: ['standby1'],
};
const standby: StandbyFacts = {
  host: 'b:5432',
  syncReplicationSlots: true,
  hotStandbyFeedback: true,
  primarySlotName: 'standby1',
  primaryConninfo: 'host=a port=5432 user=replicator dbname=app',
  slotSynced: true,
};

test('before PostgreSQL 17 a slot cannot fail over: not checked, and the recovery is named', () => {
  const r = failoverReadiness('outbox', { ...primary, major: 16 }, []);
  assert.equal(r.status, 'skip');
  assert.match(r.detail, /offsets reset --recreate --yes/);
  assert.match(r.detail, /replay --from/);
});

test('a primary and standby set up for slot synchronization pass', () => {
  const r = failoverReadiness('outbox', primary, [standby]);
  assert.equal(r.status, 'ok', r.detail);
  assert.match(r.detail, /b:5432/);
});

test('each missing standby setting is named with its fix', () => {
  const r = failoverReadiness('outbox', primary, [
    {
      ...standby,
      syncReplicationSlots: false,
      hotStandbyFeedback: false,
      primarySlotName: '',
      primaryConninfo: 'host=a user=replicator',
    },
  ]);
  assert.equal(r.status, 'warn');
  for (const name of [
    'sync_replication_slots',
    'hot_standby_feedback',
    'primary_slot_name',
    'dbname',
  ])
    assert.match(r.detail, new RegExp(name));
  assert.match(r.fix ?? '', /ALTER SYSTEM SET sync_replication_slots = on/);
  assert.match(r.fix ?? '', /ALTER SYSTEM SET hot_standby_feedback = on/);
});

test('a standby slot missing from synchronized_standby_slots is named with the value to set', () => {
  const r = failoverReadiness(
    'outbox',
    { ...primary, synchronizedStandbySlots: '', physicalSlots: ['s1', 's2'] },
    [],
  );
  assert.equal(r.status, 'warn');
  assert.match(r.fix ?? '', /synchronized_standby_slots = 's1,s2'/);
});

test('a slot made without failover says how to turn it on', () => {
  const r = failoverReadiness('outbox', { ...primary, slotFailover: false }, []);
  assert.equal(r.status, 'warn');
  assert.match(r.fix ?? '', /outbox-relay migrate/);
});

test('a standby with every setting but no synchronized copy yet is a warning', () => {
  const r = failoverReadiness('outbox', primary, [{ ...standby, slotSynced: null }]);
  assert.equal(r.status, 'warn');
  assert.match(r.detail, /no synchronized copy of "outbox"/);
});
