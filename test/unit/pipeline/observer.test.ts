import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lsnFromBigInt as lsn } from '../../../src/domain/lsn.ts';
import { HealthState } from '../../../src/ops/health.ts';
import { createMetrics } from '../../../src/ops/metrics.ts';
import { pipelineObserver } from '../../../src/pipeline/observer.ts';
import type { PendingRecord } from '../../../src/publish/publisher.ts';

function setup() {
  const metrics = createMetrics({ defaultMetrics: false });
  const health = new HealthState(60_000);
  return { metrics, health, observer: pipelineObserver(metrics, health) };
}

async function value(metrics: ReturnType<typeof createMetrics>, name: string, labels = {}) {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const found = metric?.values.find((v) =>
    Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  );
  return found?.value;
}

function record(topic: string, bytes: number): PendingRecord {
  return {
    topic,
    key: 'k',
    value: Buffer.alloc(bytes),
    headers: {},
    txSeq: 1,
    commitTimeMicros: BigInt(Date.now()) * 1000n,
    commitLsn: lsn(1n),
    index: 0,
  };
}

describe('pipelineObserver', () => {
  it('counts a request’s events and bytes per topic, and marks the producer connected', async () => {
    const { metrics, health, observer } = setup();
    observer.published([record('a', 3), record('b', 5), record('a', 7)], null);
    assert.equal(await value(metrics, 'outbox_relay_events_published_total', { topic: 'a' }), 2);
    assert.equal(await value(metrics, 'outbox_relay_bytes_published_total', { topic: 'a' }), 10);
    assert.equal(await value(metrics, 'outbox_relay_bytes_published_total', { topic: 'b' }), 5);
    assert.equal(health.producerConnected, true);
  });

  it('reads the events in flight when scraped, from the session that counts them', async () => {
    const { metrics, observer } = setup();
    let inFlight = 4;
    observer.countInFlight(() => inFlight);
    assert.equal(await value(metrics, 'outbox_relay_in_flight_events'), 4);
    inFlight = 0;
    assert.equal(await value(metrics, 'outbox_relay_in_flight_events'), 0);
  });

  it('adds a transaction’s skipped events at once, under what said Kafka held them', async () => {
    const { metrics, observer } = setup();
    observer.skipped('durable-position', 40);
    observer.skipped('checkpoint', 2);
    const name = 'outbox_relay_skipped_already_delivered_total';
    assert.equal(await value(metrics, name, { by: 'durable-position' }), 40);
    assert.equal(await value(metrics, name, { by: 'checkpoint' }), 2);
  });

  it('reports slot lag in bytes and the durable LSN, never a negative lag', async () => {
    const { metrics, observer } = setup();
    observer.positions(lsn(1_000n), lsn(400n), null);
    assert.equal(await value(metrics, 'outbox_relay_slot_lag_bytes'), 600);
    assert.equal(await value(metrics, 'outbox_relay_durable_lsn'), 400);
    observer.positions(lsn(100n), lsn(400n), null);
    assert.equal(await value(metrics, 'outbox_relay_slot_lag_bytes'), 0);
    assert.equal(await value(metrics, 'outbox_relay_slot_lag_seconds'), 0);
  });

  it('a failed publish counts, keeps the relay live, and leaves it not ready with the error', async () => {
    const { metrics, health, observer } = setup();
    health.producerConnected = true;
    observer.publishFailed(new Error('broker gone'));
    assert.equal(await value(metrics, 'outbox_relay_publish_errors_total'), 1);
    assert.equal(health.producerConnected, false);
    assert.equal(health.lastError, 'broker gone');
    assert.equal(health.live().ok, true);
  });
});
