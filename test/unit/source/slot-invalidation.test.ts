import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRetriable } from '../../../src/domain/errors.ts';
import { invalidationOf } from '../../../src/source/replication-connection.ts';
import { invalidatedSlotError, slotInvalidation } from '../../../src/source/slot.ts';

test('reads an invalidation from invalidation_reason (17+), conflicting (16) or wal_status lost (14+)', () => {
  assert.equal(
    slotInvalidation({ invalidation_reason: 'idle_timeout', wal_status: 'reserved' }),
    'idle_timeout',
  );
  assert.equal(
    slotInvalidation({ invalidation_reason: null, conflicting: true }),
    'conflict with recovery',
  );
  assert.equal(slotInvalidation({ wal_status: 'lost' }), 'wal_removed');
  assert.equal(
    slotInvalidation({ invalidation_reason: null, conflicting: false, wal_status: 'reserved' }),
    null,
  );
  assert.equal(slotInvalidation({ wal_status: 'unreserved' }), null, 'unreserved still streams');
});

test('an invalidated slot is a non-retriable error that names the slot and the way back', () => {
  const error = invalidatedSlotError('slot_a', 'idle_timeout');
  assert.equal(error.code, 'PG_SLOT_INVALIDATED');
  assert.equal(isRetriable(error), false);
  assert.match(error.message, /"slot_a".*idle_timeout.*idle_replication_slot_timeout/);
  assert.match(error.hint ?? '', /offsets reset --recreate --yes/);
  assert.match(error.hint ?? '', /outbox-relay migrate/);
  assert.match(error.hint ?? '', /replay --from/);
  assert.match(invalidatedSlotError('s', 'something new').message, /\(something new\)/);
});

test('recognises the refusal of an invalidated slot at START_REPLICATION in the words of 14 to 18', () => {
  const refusal = (message: string, detail: string) =>
    invalidationOf(Object.assign(new Error(message), { code: '55000', detail }), '55000', message);
  const size = 'This slot has been invalidated because it exceeded the maximum reserved size.';
  assert.equal(refusal('cannot read from logical replication slot "x"', size), 'wal_removed');
  assert.equal(refusal('can no longer get changes from replication slot "x"', size), 'wal_removed');
  assert.equal(
    refusal(
      'can no longer access replication slot "x"',
      'This replication slot has been invalidated due to "idle_timeout".',
    ),
    'idle_timeout',
  );
  assert.equal(invalidationOf(new Error('x'), '55006', 'replication slot "x" is active'), null);
});
