import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RelayError } from '../../../src/domain/errors.ts';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';
import type { KafkaRecord, KafkaSink, TopicState } from '../../../src/publish/kafka.ts';
import { Publisher, type PendingRecord } from '../../../src/publish/publisher.ts';
import { createEnvelopeEncoder } from '../../../src/encode/encoder.ts';
import { recordBytes, RECORD_BATCH_OVERHEAD } from '../../../src/publish/record-size.ts';

/** Seals at once: these records hold no registry-encoded bytes. */
const encoder = createEnvelopeEncoder();

interface FakeKafka {
  /** Topic states as a broker would report them; absent: ready with no known limit. */
  topics: Map<string, TopicState>;
  /** Throws for a request, as the sink would; undefined to accept it. */
  refuse?: (records: readonly KafkaRecord[]) => Error | undefined;
  requests: KafkaRecord[][];
}

function fakeSink(kafka: FakeKafka): KafkaSink {
  const state = (t: string): TopicState =>
    kafka.topics.get(t) ?? { ok: true, maxMessageBytes: null };
  return {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    ensureTopics: (topics) => Promise.resolve(new Map(topics.map((t) => [t, state(t)]))),
    changedPartitionCounts: () => Promise.resolve([]),
    fence: () => Promise.resolve(),
    ensureCompactedTopic: () => Promise.resolve(),
    readLatest: () => Promise.resolve(null),
    sendAside: () => Promise.resolve(),
    send(records) {
      const error = kafka.refuse?.(records);
      if (error) return Promise.reject(error);
      kafka.requests.push([...records]);
      return Promise.resolve([]);
    },
  };
}

function record(index: number, topic: string, bytes = 10): PendingRecord {
  return {
    topic,
    key: `k${index}`,
    value: Buffer.alloc(bytes, index),
    headers: { event_id: `e${index}` },
    txSeq: 1,
    commitTimeMicros: 0n,
    commitLsn: lsnFromBigInt(1n),
    index,
  };
}

async function publish(kafka: FakeKafka, records: PendingRecord[], failFast = false) {
  const acknowledged: PendingRecord[] = [];
  const failures: { error: unknown; retryInMs: number | null }[] = [];
  const refusals: string[] = [];
  const publisher = new Publisher(
    fakeSink(kafka),
    {
      acknowledged: (sent) => acknowledged.push(...sent),
      failed: (error, _attempt, retryInMs) => failures.push({ error, retryInMs }),
      refused: (r, reason, detail) => {
        refusals.push(`${String(r.key)}:${reason}:${detail}`);
        return { ...r, key: String(r.key), topic: 'dlq', value: Buffer.from(reason) };
      },
      seal: (records) => encoder.seal(records),
    },
    { batchMaxEvents: 100, batchMaxBytes: 1_000_000, failFast, retryInitialMs: 1 },
  );
  // Enqueued while a first request is out, as under load: they then share requests.
  records.forEach((r) => publisher.enqueue(r));
  await publisher.drain();
  return { acknowledged, failures, refusals };
}

const tooLargeError = () => new RelayError('KAFKA_TOO_LARGE', 'MESSAGE_TOO_LARGE');

describe('publisher and records Kafka refuses for good', () => {
  it('dead-letters records over their topic limit before they join a request, which is never refused', async () => {
    const limit = 200;
    const kafka: FakeKafka = {
      topics: new Map([['t', { ok: true, maxMessageBytes: limit }]]),
      requests: [],
      // A broker refuses a request holding more bytes for one topic than its limit.
      refuse: (records) => {
        const bytes = records
          .filter((r) => r.topic === 't')
          .reduce((n, r) => n + recordBytes(r), 0);
        return RECORD_BATCH_OVERHEAD + bytes > limit ? tooLargeError() : undefined;
      },
    };
    const sizes = [10, 10, 500, 10, 10, 10, 10, 10, 300, 10];
    const { acknowledged, failures, refusals } = await publish(
      kafka,
      sizes.map((size, i) => record(i, 't', size)),
    );
    assert.deepEqual(failures, []);
    assert.deepEqual(
      acknowledged.map((r) => `${r.topic}:${String(r.key)}`),
      ['t:k0', 't:k1', 'dlq:k2', 't:k3', 't:k4', 't:k5', 't:k6', 't:k7', 'dlq:k8', 't:k9'],
    );
    assert.equal(refusals.length, 2);
    assert.match(refusals[0] ?? '', /^k2:too-large:.*max\.message\.bytes/);
    const sent = kafka.requests.flat().filter((r) => r.topic === 't');
    assert.equal(sent.length, new Set(sent.map((r) => r.key)).size, 'no record sent twice');
  });

  it('dead-letters every record for a topic Kafka will not create, and sends the others', async () => {
    const kafka: FakeKafka = {
      topics: new Map([
        ['x_y', { ok: false, refusal: 'INVALID_TOPIC_EXCEPTION: collides with x.y' }],
      ]),
      requests: [],
    };
    const records = ['a', 'x_y', 'a', 'x_y', 'b'].map((t, i) => record(i, t));
    const { acknowledged, refusals, failures } = await publish(kafka, records);
    assert.deepEqual(failures, []);
    assert.deepEqual(
      acknowledged.map((r) => r.topic),
      ['a', 'dlq', 'a', 'dlq', 'b'],
    );
    assert.deepEqual(refusals, [
      'k1:unroutable:INVALID_TOPIC_EXCEPTION: collides with x.y',
      'k3:unroutable:INVALID_TOPIC_EXCEPTION: collides with x.y',
    ]);
  });

  it('finds the topic Kafka refuses to write by splitting, then dead-letters its records together', async () => {
    const kafka: FakeKafka = {
      topics: new Map(),
      requests: [],
      refuse: (records) =>
        records.some((r) => r.topic === 'denied')
          ? new RelayError('KAFKA_TOPIC_REFUSED', 'TOPIC_AUTHORIZATION_FAILED')
          : undefined,
    };
    const records = ['a', 'a', 'denied', 'denied', 'denied', 'denied', 'b', 'b'].map((t, i) =>
      record(i, t),
    );
    const { acknowledged, failures } = await publish(kafka, records);
    assert.deepEqual(failures, []);
    assert.deepEqual(
      acknowledged.map((r) => r.topic),
      ['a', 'a', 'dlq', 'dlq', 'dlq', 'dlq', 'b', 'b'],
    );
  });

  it('stops on a refusal of the relay itself instead of retrying or dead-lettering', async () => {
    const kafka: FakeKafka = {
      topics: new Map(),
      requests: [],
      refuse: () =>
        new RelayError('KAFKA_PUBLISH', 'CLUSTER_AUTHORIZATION_FAILED', { retriable: false }),
    };
    const { acknowledged, failures } = await publish(kafka, [record(0, 'a'), record(1, 'a')]);
    assert.deepEqual(acknowledged, []);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.retryInMs, null);
  });

  it('stops when the dead-letter topic itself is refused', async () => {
    const kafka: FakeKafka = {
      topics: new Map([
        ['bad', { ok: false, refusal: 'INVALID_TOPIC_EXCEPTION' }],
        ['dlq', { ok: false, refusal: 'TOPIC_AUTHORIZATION_FAILED' }],
      ]),
      requests: [],
    };
    const { acknowledged, failures } = await publish(kafka, [record(0, 'bad')]);
    assert.deepEqual(acknowledged, []);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.retryInMs, null);
  });

  it('retries stale metadata until the topic is back, losing nothing', async () => {
    let failuresLeft = 2;
    const kafka: FakeKafka = {
      topics: new Map(),
      requests: [],
      refuse: () =>
        failuresLeft-- > 0
          ? new RelayError('KAFKA_PUBLISH', 'UNKNOWN_TOPIC_OR_PARTITION', { retriable: true })
          : undefined,
    };
    const { acknowledged, failures } = await publish(
      kafka,
      [0, 1, 2].map((i) => record(i, 'a')),
    );
    assert.equal(failures.length, 2);
    assert.deepEqual(
      acknowledged.map((r) => r.key),
      ['k0', 'k1', 'k2'],
    );
  });
});
