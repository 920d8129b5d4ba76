import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { javaPartitions } from '../support/java-murmur2.ts';
import { consumeAll, decodeAll } from '../support/consume.ts';
import { countDelivery } from '../support/delivery.ts';
import { planEvents, writeTransactions } from '../support/fixtures.ts';
import { startRelayInProcess, waitFor } from '../support/relay.ts';
import { scenario, type Scenario } from '../support/scenario.ts';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER } from '../../src/route/index.ts';

const transactions = planEvents({
  total: 5000,
  aggregates: 200,
  sizes: [1, 500, 3, 120, 1, 1, 57, 250, 9, 2, 33, 480, 1, 75],
});
const events = transactions.flat();
let s: Scenario;

before(async () => {
  s = await scenario('e2e');
});

after(async () => {
  await s?.cleanup();
});

test('relays 5,000 events over 200 aggregates in order, decodable, on murmur2 partitions', async () => {
  const relay = startRelayInProcess(s.env);
  try {
    await writeTransactions(s.pool, s.names, transactions);
    await waitFor(() => relay.relay && relay.health.ready().ok, 30_000, 'the relay to stream');
    const topics = [...new Set(events.map((e) => s.names.topic(e.aggregateType)))];
    const records = decodeAll(
      await consumeAll({
        brokers: s.brokers,
        topics,
        atLeast: events.length,
        timeoutMs: 120_000,
      }),
    );

    const delivered = records.map((r) => {
      const payload = JSON.parse(r.event.payload) as { seq: number };
      return { id: r.event.event_id, aggregateId: r.event.aggregate_id, seq: payload.seq };
    });
    const count = countDelivery(events, delivered);
    assert.deepEqual(
      { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
      { lost: 0, duplicated: 0, reordered: 0 },
      JSON.stringify(count),
    );

    const byId = new Map(events.map((e) => [e.id, e]));
    for (const r of records) {
      const planned = byId.get(r.event.event_id);
      assert.ok(planned, `unexpected event ${r.event.event_id}`);
      assert.equal(r.key, planned.aggregateId);
      assert.equal(r.topic, s.names.topic(planned.aggregateType));
      assert.equal(r.event.event_type, planned.eventType);
      assert.equal(r.event.aggregate_type, planned.aggregateType);
      assert.equal(r.headers[EVENT_ID_HEADER], planned.id);
      assert.equal(r.headers[EVENT_TYPE_HEADER], planned.eventType);
      assert.deepEqual(JSON.parse(r.event.payload), planned.payload);
      assert.equal(r.event.headers.source, 'test');
      assert.ok(r.event.created_at > 1_700_000_000_000_000n, 'created_at is in microseconds');
    }

    const partitions = await javaPartitions([...new Set(records.map((r) => r.key ?? ''))], 6);
    const wrong = records.filter((r) => partitions.get(r.key ?? '') !== r.partition);
    assert.equal(
      wrong.length,
      0,
      `records on a partition other than Java's murmur2: ${JSON.stringify(wrong.slice(0, 3).map((r) => [r.key, r.partition]))}`,
    );
  } finally {
    await relay.stop();
  }
});

test('confirms the slot up to the last commit once Kafka holds everything', async () => {
  const relay = startRelayInProcess(s.env);
  try {
    const [last] = await s.pool
      .query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
      .then((r) => r.rows);
    await waitFor(
      async () => {
        const { rows } = await s.pool.query<{ behind: string }>(
          'SELECT ($2::pg_lsn - confirmed_flush_lsn)::text AS behind FROM pg_replication_slots WHERE slot_name = $1',
          [s.names.slot, last?.lsn],
        );
        return Number(rows[0]?.behind ?? 1) <= 0;
      },
      20_000,
      'the slot to confirm past the last write',
    );
  } finally {
    await relay.stop();
  }
});
