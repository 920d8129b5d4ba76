import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RelayError } from '../../../src/domain/errors.ts';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';
import type { KafkaRecord, KafkaSink } from '../../../src/publish/kafka.ts';
import { Publisher, type PendingRecord } from '../../../src/publish/publisher.ts';
import { createEnvelopeEncoder } from '../../../src/encode/encoder.ts';

/** Seals at once: these records hold no registry-encoded bytes. */
const encoder = createEnvelopeEncoder();

/** A sink that refuses any request holding a value over `limit` bytes, as a broker does. */
function limitedSink(limit: number, sent: KafkaRecord[][]): KafkaSink {
  return {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    ensureTopics: (topics) =>
      Promise.resolve(new Map(topics.map((t) => [t, { ok: true, maxMessageBytes: null }]))),
    changedPartitionCounts: () => Promise.resolve([]),
    fence: () => Promise.resolve(),
    ensureCompactedTopic: () => Promise.resolve(),
    readLatest: () => Promise.resolve(null),
    sendAside: () => Promise.resolve(),
    send(records) {
      if (records.some((r) => r.value.length > limit)) {
        return Promise.reject(new RelayError('KAFKA_TOO_LARGE', 'MESSAGE_TOO_LARGE'));
      }
      sent.push([...records]);
      return Promise.resolve([]);
    },
  };
}

function record(index: number, bytes: number): PendingRecord {
  return {
    topic: 't',
    key: `k${index}`,
    value: Buffer.alloc(bytes, index),
    headers: { event_id: `e${index}` },
    txSeq: 1 + Math.floor(index / 4),
    commitTimeMicros: 0n,
    commitLsn: lsnFromBigInt(1n),
    index,
  };
}

async function publish(sizes: number[], limit: number, failFast = false) {
  const sent: KafkaRecord[][] = [];
  const acknowledged: PendingRecord[] = [];
  const failures: unknown[] = [];
  const publisher = new Publisher(
    limitedSink(limit, sent),
    {
      acknowledged: (records) => acknowledged.push(...records),
      failed: (error) => failures.push(error),
      refused: (r) => ({
        ...r,
        key: String(r.key),
        topic: 'dlq',
        value: Buffer.from(`too large: ${String(r.key)}`),
      }),
      seal: (records) => encoder.seal(records),
    },
    { batchMaxEvents: 100, batchMaxBytes: 1_000_000, failFast },
  );
  sizes.forEach((size, i) => publisher.enqueue(record(i, size)));
  await publisher.drain();
  return { sent, acknowledged, failures };
}

describe('publisher and records the broker refuses as too large', () => {
  it('splits the batch, sends a dead letter in place of the one record, and keeps the order', async () => {
    const { acknowledged, failures } = await publish([10, 10, 10, 500, 10, 10, 10], 100);
    assert.deepEqual(failures, []);
    assert.deepEqual(
      acknowledged.map((r) => `${r.topic}:${String(r.key)}`),
      ['t:k0', 't:k1', 't:k2', 'dlq:k3', 't:k4', 't:k5', 't:k6'],
    );
    assert.deepEqual(
      acknowledged.map((r) => r.txSeq),
      [1, 1, 1, 1, 2, 2, 2],
    );
  });

  it('handles two oversized records in one batch, also when failing fast (exactly-once)', async () => {
    const { acknowledged, failures } = await publish([500, 10, 500], 100, true);
    assert.deepEqual(failures, []);
    assert.deepEqual(
      acknowledged.map((r) => r.topic),
      ['dlq', 't', 'dlq'],
    );
  });

  it('stops instead of looping when even the dead letter is refused', async () => {
    const { failures, acknowledged } = await publish([500], 5);
    assert.equal(failures.length, 1);
    assert.deepEqual(acknowledged, []);
  });
});
