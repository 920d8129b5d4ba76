import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../../src/ops/metrics.ts';
import { showSlotHealth, slotHealthOf } from '../../../src/pipeline/slot-health.ts';
import type { SlotHealthRow } from '../../../src/db/slots.ts';

const row = (over: Partial<SlotHealthRow> = {}): SlotHealthRow => ({
  active_pid: 4242,
  wal_status: 'reserved',
  safe_wal_size: '1048576',
  invalidation_reason: null,
  conflicting: false,
  lag: '128',
  ...over,
});
const now = new Date('2026-12-06T12:00:00Z');

test('the slot is held by us only when its active_pid is our walsender', () => {
  assert.equal(slotHealthOf(row(), 4242, now).heldByUs, true);
  assert.equal(slotHealthOf(row(), 7, now).heldByUs, false);
  assert.equal(slotHealthOf(row(), null, now).heldByUs, false, 'between sessions');
  assert.equal(slotHealthOf(row({ active_pid: null }), 4242, now).heldByUs, false);
});

test('reads sizes as numbers and leaves safe_wal_size null when the WAL kept is unlimited', () => {
  const slot = slotHealthOf(row({ safe_wal_size: null }), 4242, now);
  assert.deepEqual(slot, {
    heldByUs: true,
    walStatus: 'reserved',
    safeWalSizeBytes: null,
    conflicting: false,
    invalidationReason: null,
    lagBytes: 128,
    checkedAt: '2026-12-06T12:00:00.000Z',
  });
});

test('names the invalidation on every version: lost before 17, the reason on 17+, conflicting on 16', () => {
  assert.equal(slotHealthOf(row({ wal_status: 'lost' }), 1, now).invalidationReason, 'wal_removed');
  assert.equal(
    slotHealthOf(row({ invalidation_reason: 'idle_timeout' }), 1, now).invalidationReason,
    'idle_timeout',
  );
  assert.equal(
    slotHealthOf(row({ conflicting: true }), 1, now).invalidationReason,
    'conflict with recovery',
  );
  assert.equal(slotHealthOf(row({ wal_status: 'unreserved' }), 1, now).invalidationReason, null);
});

test('metrics: one wal_status series at 1, NaN safe size when unlimited, the reason of an invalidation', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  showSlotHealth(metrics, slotHealthOf(row({ safe_wal_size: null }), 4242, now));
  let text = await metrics.registry.metrics();
  assert.match(text, /outbox_relay_slot_wal_status\{status="reserved"\} 1/);
  assert.match(text, /outbox_relay_slot_wal_status\{status="lost"\} 0/);
  assert.match(text, /outbox_relay_slot_safe_wal_size_bytes nan$/im);
  assert.match(text, /outbox_relay_slot_held 1/);
  assert.match(text, /outbox_relay_slot_invalidated\{reason=""\} 0/);

  showSlotHealth(metrics, slotHealthOf(row({ wal_status: 'lost', safe_wal_size: null }), 9, now));
  text = await metrics.registry.metrics();
  assert.match(text, /outbox_relay_slot_wal_status\{status="lost"\} 1/);
  assert.match(text, /outbox_relay_slot_wal_status\{status="reserved"\} 0/);
  assert.match(text, /outbox_relay_slot_invalidated\{reason="wal_removed"\} 1/);
  assert.match(text, /outbox_relay_slot_held 0/);
});
