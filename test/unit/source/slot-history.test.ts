import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lostSlotError, slotHistoryReason } from '../../../src/source/slot.ts';

const topic = 'outbox-relay.checkpoints';

test('a missing slot on a fresh database (timeline 1, nothing in Kafka) may be created', () => {
  assert.equal(slotHistoryReason({ timeline: 1, kafkaKey: null, topic }), null);
});

test('a missing slot on a promoted standby (timeline 2) must not be created', () => {
  const reason = slotHistoryReason({ timeline: 2, kafkaKey: null, topic });
  assert.match(reason ?? '', /timeline 2: it was promoted from a standby/);
});

test('a missing slot whose position Kafka holds must not be created, on any timeline', () => {
  const reason = slotHistoryReason({ timeline: 1, kafkaKey: 'position/7/app/s', topic });
  assert.match(reason ?? '', /key "position\/7\/app\/s" in topic "outbox-relay.checkpoints"/);
});

test('the refusal names the recovery: recreate the slot, then replay from before the failover', () => {
  const error = lostSlotError('outbox', 'the server is on timeline 2');
  assert.equal(error.retriable, false);
  assert.match(error.message, /"outbox" does not exist/);
  assert.match(error.hint ?? '', /outbox-relay offsets reset --recreate --yes/);
  assert.match(error.hint ?? '', /outbox-relay replay --from <a time before the failover>/);
});
