import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordHeaders, rfc3339Micros } from '../../../src/route/headers.ts';
import { sampleEvent } from '../encode/sample-event.ts';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('record headers', () => {
  it('copies W3C traceparent and tracestate from the row, and no other row header', () => {
    const event = sampleEvent({
      headers: { traceparent: TRACEPARENT, tracestate: 'rojo=00f067aa0ba902b7', other: 'x' },
    });
    const headers = recordHeaders(event);
    assert.equal(headers.traceparent, TRACEPARENT);
    assert.equal(headers.tracestate, 'rojo=00f067aa0ba902b7');
    assert.equal(headers.other, undefined);
    assert.equal(recordHeaders(sampleEvent({ headers: {} })).traceparent, undefined);
  });

  it('adds CloudEvents binary-mode attributes only when asked', () => {
    const event = sampleEvent({ createdAtMicros: 1_795_341_600_123_456n });
    assert.equal(recordHeaders(event).ce_id, undefined);
    const headers = recordHeaders(event, { cloudEventsSource: '/outbox-relay/public/outbox' });
    assert.deepEqual(
      Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('ce_'))),
      {
        ce_specversion: '1.0',
        ce_id: event.id,
        ce_source: '/outbox-relay/public/outbox',
        ce_type: event.eventType,
        ce_time: '2026-11-22T10:00:00.123456Z',
        ce_subject: event.aggregateId,
      },
    );
    assert.equal(headers['content-type'], 'avro/binary');
  });

  it('writes times before 1970 with all six fraction digits', () => {
    assert.equal(rfc3339Micros(-1n), '1969-12-31T23:59:59.999999Z');
    assert.equal(rfc3339Micros(0n), '1970-01-01T00:00:00.000000Z');
  });
});
