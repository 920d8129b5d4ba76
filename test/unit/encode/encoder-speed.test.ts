import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { createEnvelopeEncoder } from '../../../src/encode/index.ts';
import { sampleEvent } from './sample-event.ts';

// About 300 bytes, shaped like a real order event.
const PAYLOAD = JSON.stringify({
  orderId: 'ord-123456',
  customer: { id: 'c-42', email: 'someone@example.com', name: 'Zoë Example' },
  lines: [
    { sku: 'SKU-1', qty: 2, price: 12.5 },
    { sku: 'SKU-22', qty: 1, price: 99.99 },
  ],
  total: 124.99,
  currency: 'EUR',
  note: 'leave the parcel at the side door and ring twice; the bell is loud',
});

// The relay's floor is 5,000 events/s on one core; encoding is a small share of that budget.
const FLOOR_EVENTS_PER_SECOND = 20_000;

it('encodes ~300-byte events far faster than the relay needs', (t) => {
  const encoder = createEnvelopeEncoder();
  const events = Array.from({ length: 1000 }, (_, i) =>
    sampleEvent({ id: randomUUID(), aggregateId: `ord-${i}`, payload: PAYLOAD }),
  );
  const count = 50_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) encoder.encodeValue(events[i % events.length]!);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = Math.round(count / seconds);
  t.diagnostic(`${rate} events/s, payload ${Buffer.byteLength(PAYLOAD)} bytes`);
  assert.ok(rate > FLOOR_EVENTS_PER_SECOND, `only ${rate} events/s`);
});
