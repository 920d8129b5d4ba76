import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';
import { messageToEvent, nonTransactionalMessage } from '../../../src/decode/outbox-message.ts';
import type { LogicalMessage } from '../../../src/decode/pgoutput.ts';

const position = { commitLsn: lsnFromBigInt(100n), txSeq: 1, index: 0 };
const COMMIT_MICROS = 1_795_316_405_123_456n;

function message(content: string, transactional = true): LogicalMessage {
  return { tag: 'message', transactional, lsn: lsnFromBigInt(90n), prefix: 'outbox', content };
}

const good = {
  id: 'e1',
  aggregate_type: 'order',
  aggregate_id: 'o-1',
  event_type: 'order.placed',
  payload: { total: 12345678901234567890, items: [1, 2.5] },
};

test('a message with the outbox columns is an event; its payload keeps the digits', () => {
  const text = JSON.stringify(good).replace('12345678901234567000', '12345678901234567890');
  const result = messageToEvent(message(text), position, COMMIT_MICROS);
  assert.ok(result.ok);
  assert.equal(result.event.id, 'e1');
  assert.equal(result.event.aggregateType, 'order');
  assert.equal(result.event.aggregateId, 'o-1');
  assert.equal(result.event.eventType, 'order.placed');
  assert.equal(result.event.payload, '{"total":12345678901234567890,"items":[1,2.5]}');
  assert.deepEqual(result.event.headers, {});
  assert.equal(result.event.createdAtMicros, COMMIT_MICROS, 'no created_at: the commit time');
});

test('headers and created_at are read when given', () => {
  const text = JSON.stringify({
    ...good,
    headers: { traceparent: '00-aa-bb-01', n: 7 },
    created_at: '2026-11-22 03:00:05.123456+00',
  });
  const result = messageToEvent(message(text), position, 0n);
  assert.ok(result.ok);
  assert.deepEqual(result.event.headers, { traceparent: '00-aa-bb-01', n: '7' });
  assert.equal(result.event.createdAtMicros, COMMIT_MICROS);
});

test('what is not an event says why', () => {
  const reasons = [
    ['not json', 'malformed-message'],
    ['[1,2]', 'malformed-message'],
    [JSON.stringify({ ...good, aggregate_id: '' }), 'missing-aggregate-id'],
    [JSON.stringify({ ...good, event_type: 7 }), 'missing-value'],
    [JSON.stringify({ ...good, payload: undefined }), 'missing-value'],
    [JSON.stringify({ ...good, headers: [1] }), 'malformed-headers'],
    [JSON.stringify({ ...good, created_at: 'yesterday' }), 'malformed-timestamp'],
  ] as const;
  for (const [text, reason] of reasons) {
    const result = messageToEvent(message(text), position, COMMIT_MICROS);
    assert.ok(!result.ok, text);
    assert.equal(result.bad.reason, reason, text);
    assert.deepEqual(result.bad.row, { prefix: 'outbox', content: text });
  }
  const missing = messageToEvent(
    message(JSON.stringify({ ...good, aggregate_id: '' })),
    position,
    0n,
  );
  assert.equal(!missing.ok && missing.bad.eventId, 'e1', 'the id, when it has one');
});

test('a message written outside a transaction is a dead letter that says how to write it', () => {
  const bad = nonTransactionalMessage(message('{"id":"x"}', false), position);
  assert.equal(bad.reason, 'non-transactional-message');
  assert.match(bad.detail, /transactional = true/);
  assert.equal(bad.row.content, '{"id":"x"}');
});
