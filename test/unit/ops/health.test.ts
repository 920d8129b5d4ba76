import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthState, type SlotHealth } from '../../../src/ops/health.ts';

const slot = (over: Partial<SlotHealth> = {}): SlotHealth => ({
  heldByUs: true,
  walStatus: 'reserved',
  safeWalSizeBytes: null,
  conflicting: null,
  invalidationReason: null,
  lagBytes: 0,
  checkedAt: new Date(1_000_000).toISOString(),
  ...over,
});

function streaming(): HealthState {
  const health = new HealthState(60_000);
  health.stream = 'streaming';
  health.producerConnected = true;
  return health;
}

test('liveness depends on nothing outside the process: a Postgres outage and no progress keep it live', () => {
  const health = new HealthState(1_000);
  health.stream = 'reconnecting';
  health.postgresError = 'connection refused';
  assert.equal(health.live(Date.now() + 3_600_000).ok, true);
  health.stream = 'stopped';
  assert.equal(health.live().ok, false);
});

test('ready while streaming with a producer, nothing failing', () => {
  const ready = streaming().ready();
  assert.equal(ready.ok, true);
  assert.equal(ready.status, 'ready');
  assert.deepEqual(ready.failing, []);
});

test('a Postgres outage is not ready and names postgres with its error', () => {
  const health = streaming();
  health.stream = 'reconnecting';
  health.postgresError = 'connection refused';
  const ready = health.ready();
  assert.equal(ready.ok, false);
  assert.equal(ready.status, 'not-ready');
  assert.deepEqual(ready.failing, ['postgres: replication reconnecting: connection refused']);
  assert.equal(health.dependencies().postgres.ok, false);
  assert.equal(health.dependencies().kafka.ok, true);
});

test('no progress for longer than the timeout makes a streaming relay degraded, not dead', () => {
  const health = streaming();
  const later = Date.now() + 61_000;
  const ready = health.ready(later);
  assert.equal(ready.status, 'degraded');
  assert.match(ready.failing[0] ?? '', /^no progress/);
  assert.equal(health.live(later).ok, true);
});

test('an invalidated slot fails readiness with its reason', () => {
  const health = streaming();
  health.slotChecksEvery(10_000, 1_000_000);
  health.slot = slot({ walStatus: 'lost', invalidationReason: 'wal_removed' });
  const ready = health.ready(1_000_500);
  assert.equal(ready.ok, false);
  assert.deepEqual(ready.failing, ['slot: invalidated by PostgreSQL (wal_removed)']);
});

test('a slot check older than three intervals is stale and fails readiness', () => {
  const health = streaming();
  health.slotChecksEvery(1_000, 1_000_000);
  health.slot = slot();
  assert.equal(health.ready(1_002_000).ok, true);
  assert.equal(health.dependencies(1_002_000).slot?.stale, false);
  health.slotCheckError = 'timeout';
  const ready = health.ready(1_004_000);
  assert.equal(ready.ok, false);
  assert.deepEqual(ready.failing, ['slot: not checked for 4000 ms: timeout']);
  assert.equal(health.dependencies(1_004_000).slot?.stale, true);
});

test('a standby is ready with status standby; a failing condition makes it degraded', () => {
  const health = streaming();
  health.stream = 'standby';
  assert.equal(health.ready().status, 'standby');
  assert.equal(health.ready().ok, true);
  health.producerConnected = false;
  assert.equal(health.ready().status, 'degraded');
});
