import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { planEvents, writeTransactions } from '../support/fixtures.ts';
import { spawnRelay } from '../support/relay.ts';
import { published, scenario, stopRelay } from '../support/scenario.ts';
import { waitFor } from '../support/relay.ts';

test('a topic whose partition count changes under the relay is reported with a warning and a metric', async () => {
  const s = await scenario('partitions', { RELAY_PARTITION_CHECK_INTERVAL_MS: '300' });
  const relay = spawnRelay(s.env);
  const admin = new Kafka({ brokers: s.brokers, logLevel: logLevel.NOTHING }).admin();
  try {
    await relay.waitForLog('streaming');
    const transactions = planEvents({
      total: 10,
      aggregates: 3,
      sizes: [10],
      aggregateTypes: ['order'],
    });
    await writeTransactions(s.pool, s.names, transactions);
    await waitFor(async () => (await published(relay)) >= 10, 30_000, 'the events to reach Kafka');
    await admin.connect();
    await admin.createPartitions({
      topicPartitions: [{ topic: s.names.topic('order'), count: 9 }],
    });
    const warning = await relay.waitForLog(
      'topic partition count changed: events of one aggregate before and after the change may be on different partitions, so their order across it is not guaranteed',
      15_000,
    );
    assert.deepEqual([warning.topic, warning.before, warning.now], [s.names.topic('order'), 6, 9]);
    const metrics = await fetch(`http://127.0.0.1:${await relay.httpPort}/metrics`).then((r) =>
      r.text(),
    );
    assert.match(metrics, /outbox_relay_partition_count_changes_total\{topic="[^"]+"\} 1/);
  } finally {
    await admin.disconnect();
    await stopRelay(relay);
    await s.cleanup();
  }
});
