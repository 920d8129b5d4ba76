import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';
import type { KafkaSink } from '../../../src/publish/kafka.ts';
import { Publisher, type PendingRecord } from '../../../src/publish/publisher.ts';

/** A sink whose produce requests settle when the test says so. */
function heldSink(settle: ((outcome: Error | null) => void)[]): KafkaSink {
  return {
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
    ensureTopics: () => Promise.resolve(),
    changedPartitionCounts: () => Promise.resolve([]),
    fence: () => Promise.resolve(),
    ensureCompactedTopic: () => Promise.resolve(),
    readLatest: () => Promise.resolve(null),
    sendAside: () => Promise.resolve(),
    send: () =>
      new Promise<void>((resolve, reject) =>
        settle.push((outcome) => (outcome ? reject(outcome) : resolve())),
      ),
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

function publisher(settle: ((outcome: Error | null) => void)[], acknowledged: PendingRecord[]) {
  return new Publisher(
    heldSink(settle),
    {
      acknowledged: (records) => acknowledged.push(...records),
      failed: () => undefined,
      tooLarge: (r) => r,
    },
    { batchMaxEvents: 100, batchMaxBytes: 1_000_000, retryInitialMs: 1 },
  );
}

test('a request Kafka acknowledges after the publisher was abandoned still counts as acknowledged', async () => {
  const settle: ((outcome: Error | null) => void)[] = [];
  const acknowledged: PendingRecord[] = [];
  const p = publisher(settle, acknowledged);
  p.enqueue(record(0)); // goes out at once, alone
  p.enqueue(record(1)); // waits for the next request
  await new Promise((r) => setImmediate(r));
  const abandoned = p.abandon(); // drops record 1
  p.enqueue(record(2)); // after abandon: dropped, never sent
  settle.shift()?.(null);
  await abandoned;
  assert.deepEqual(
    acknowledged.map((r) => r.index),
    [0],
    'the batch in flight is in Kafka: not counting it would send it twice',
  );
  assert.equal(settle.length, 0, 'nothing else was sent');
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
