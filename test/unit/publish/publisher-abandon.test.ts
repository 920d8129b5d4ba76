import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';
import type { KafkaRecord, KafkaSink, Placement, TopicState } from '../../../src/publish/kafka.ts';
import { Publisher, type PendingRecord } from '../../../src/publish/publisher.ts';
import { createEnvelopeEncoder } from '../../../src/encode/encoder.ts';

/** Seals at once: these records hold no registry-encoded bytes. */
const encoder = createEnvelopeEncoder();

/** A sink whose produce requests settle when the test says so. */
function heldSink(settle: ((outcome: Error | null) => void)[], sent: KafkaRecord[][]): KafkaSink {
  const ready: TopicState = { ok: true, maxMessageBytes: null };
  return {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    ensureTopics: (topics) => Promise.resolve(new Map(topics.map((t) => [t, ready]))),
    changedPartitionCounts: () => Promise.resolve([]),
    fence: () => Promise.resolve(),
    ensureCompactedTopic: () => Promise.resolve(),
    readLatest: () => Promise.resolve(null),
    sendAside: () => Promise.resolve(),
    send: (records) =>
      new Promise<readonly Placement[]>((resolve, reject) => {
        sent.push([...records]);
        settle.push((outcome) => (outcome ? reject(outcome) : resolve([])));
      }),
  };
}

const record = (index: number): PendingRecord => ({
  topic: 't',
  key: `k${index}`,
  value: Buffer.from(`v${index}`),
  headers: {},
  txSeq: 1,
  commitTimeMicros: 0n,
  commitLsn: lsnFromBigInt(1n),
  index,
});

function publisher(
  settle: ((outcome: Error | null) => void)[],
  acknowledged: PendingRecord[],
  sent: KafkaRecord[][] = [],
) {
  return new Publisher(
    heldSink(settle, sent),
    {
      acknowledged: (records) => acknowledged.push(...records),
      failed: () => undefined,
      refused: () => assert.fail('nothing is refused here'),
      seal: (records) => encoder.seal(records),
    },
    { batchMaxEvents: 100, batchMaxBytes: 1_000_000, retryInitialMs: 1 },
  );
}

test('a request Kafka acknowledges after the publisher was abandoned still counts as acknowledged', async () => {
  const settle: ((outcome: Error | null) => void)[] = [];
  const acknowledged: PendingRecord[] = [];
  const sent: KafkaRecord[][] = [];
  const p = publisher(settle, acknowledged, sent);
  p.enqueue(record(0));
  p.enqueue(record(1));
  await new Promise((r) => setImmediate(r));
  assert.equal(sent.length, 1, 'one request is out');
  const abandoned = p.abandon();
  p.enqueue(record(2)); // after abandon: dropped, never sent
  settle.shift()?.(null);
  await abandoned;
  assert.deepEqual(
    acknowledged.map((r) => r.index),
    sent[0]?.map((_, i) => i),
    'the request in flight is in Kafka: not counting it would send it twice',
  );
  assert.equal(sent.length, 1, 'nothing else was sent');
});

test('a request that fails after the publisher was abandoned is neither acknowledged nor retried', async () => {
  const settle: ((outcome: Error | null) => void)[] = [];
  const acknowledged: PendingRecord[] = [];
  const p = publisher(settle, acknowledged);
  p.enqueue(record(0));
  await new Promise((r) => setImmediate(r));
  const abandoned = p.abandon();
  settle.shift()?.(new Error('broker gone'));
  await abandoned;
  assert.deepEqual(acknowledged, []);
  assert.equal(settle.length, 0);
});

test('dropQueuedTail drops only the matching records at the back, never one already out', async () => {
  const settle: ((outcome: Error | null) => void)[] = [];
  const acknowledged: PendingRecord[] = [];
  const sent: KafkaRecord[][] = [];
  const p = publisher(settle, acknowledged, sent);
  p.enqueue(record(0));
  await new Promise((r) => setImmediate(r));
  const tx = (index: number, txSeq: number): PendingRecord => ({ ...record(index), txSeq });
  for (const r of [tx(1, 1), tx(2, 2), tx(3, 3), tx(4, 3)]) p.enqueue(r);
  assert.equal(
    p.dropQueuedTail((r) => r.txSeq === 3),
    2,
  );
  assert.equal(p.waiting, 2);
  assert.equal(
    p.dropQueuedTail((r) => r.txSeq === 3),
    0,
  );
  settle.shift()?.(null);
  await new Promise((r) => setImmediate(r));
  settle.shift()?.(null);
  await p.drain();
  assert.deepEqual(
    acknowledged.map((r) => r.index),
    [0, 1, 2],
  );
});
