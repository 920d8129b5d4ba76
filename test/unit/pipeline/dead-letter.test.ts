import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';
import {
  DEAD_LETTER_HEADERS,
  deadLetter,
  refusedRecord,
  unencodableEvent,
} from '../../../src/pipeline/dead-letter.ts';
import type { PendingRecord } from '../../../src/publish/publisher.ts';
import { AGGREGATE_TYPE_HEADER, EVENT_ID_HEADER } from '../../../src/route/headers.ts';
import { sampleEvent } from '../encode/sample-event.ts';

describe('dead letters', () => {
  it('an unencodable event keeps its row as the outbox holds it, keyed by its aggregate', () => {
    const event = sampleEvent();
    const letter = deadLetter(unencodableEvent(event, 'unencodable', 'bad'), 'dlq', 'orders');
    assert.equal(letter.topic, 'dlq');
    assert.equal(letter.key, event.aggregateId);
    const row = JSON.parse(letter.value.toString()) as Record<string, string>;
    assert.equal(row.payload, event.payload);
    assert.equal(row.headers, JSON.stringify(event.headers));
    assert.equal(letter.headers[DEAD_LETTER_HEADERS.reason], 'unencodable');
    assert.equal(letter.headers[DEAD_LETTER_HEADERS.intendedTopic], 'orders');
    assert.equal(letter.headers[DEAD_LETTER_HEADERS.eventId], event.id);
  });

  it('a record Kafka refuses keeps its position and names its size, but not its payload', () => {
    const record: PendingRecord = {
      topic: 'orders',
      key: 'agg-1',
      value: Buffer.alloc(2_000_000),
      headers: { [EVENT_ID_HEADER]: 'e-1', [AGGREGATE_TYPE_HEADER]: 'order' },
      txSeq: 3,
      commitTimeMicros: 0n,
      commitLsn: lsnFromBigInt(42n),
      index: 7,
    };
    const bad = refusedRecord(record, 'too-large', 'MESSAGE_TOO_LARGE');
    assert.deepEqual(bad.position, { commitLsn: 42n, txSeq: 3, index: 7 });
    assert.equal(bad.row.payload, null);
    assert.equal(bad.row.aggregate_id, 'agg-1');
    assert.match(bad.detail, /2000000 bytes, more than Kafka accepts \(MESSAGE_TOO_LARGE\)/);
    assert.equal(deadLetter(bad, 'dlq', 'orders').key, 'agg-1');
  });
});
