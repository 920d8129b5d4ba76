import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { consumeAll, decodeAll } from '../support/consume.ts';
import { startRelayInProcess } from '../support/relay.ts';
import { scenario, type Scenario } from '../support/scenario.ts';
import { quoteIdent } from '../../src/db/sql.ts';

let s: Scenario;

before(async () => {
  s = await scenario('dlq');
});

after(async () => {
  await s?.cleanup();
});

interface Row {
  id: string;
  aggregateType: string;
  aggregateId: string;
  headers: string | null;
  seq: number;
}

const good = (seq: number): Row => ({
  id: randomUUID(),
  aggregateType: 'order',
  aggregateId: 'o-1',
  headers: null,
  seq,
});

async function insertTransaction(rows: Row[]): Promise<void> {
  const table = `${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)}`;
  const client = await s.pool.connect();
  try {
    await client.query('BEGIN');
    for (const r of rows) {
      await client.query(
        `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload, headers) VALUES ($1, $2, $3, 'changed', $4, $5)`,
        [r.id, r.aggregateType, r.aggregateId, JSON.stringify({ seq: r.seq }), r.headers],
      );
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

test('dead-letters bad rows with their reason while the good events around them arrive in order', async () => {
  const kafkaBrokers = s.brokers;
  const noKey: Row = { ...good(-1), aggregateId: '' };
  const badHeaders: Row = { ...good(-1), headers: '"not an object"' };
  const badTopic: Row = { ...good(-1), aggregateType: 'no spaces allowed' };
  // The template t.<id>.{aggregateType} makes the dead-letter topic t.<id>.deadletter of it.
  const ownTopic: Row = { ...good(-1), aggregateType: 'deadletter' };
  const goods = [0, 1, 2, 3, 4, 5].map(good);
  const relay = startRelayInProcess(s.env);
  try {
    await insertTransaction([goods[0]!, noKey, goods[1]!, badHeaders, goods[2]!]);
    await insertTransaction([goods[3]!, badTopic, ownTopic, goods[4]!]);
    await insertTransaction([goods[5]!]);

    const events = decodeAll(
      await consumeAll({ brokers: kafkaBrokers, topics: [s.names.topic('order')], atLeast: 6 }),
    );
    assert.deepEqual(
      events.map((e) => (JSON.parse(e.event.payload) as { seq: number }).seq),
      [0, 1, 2, 3, 4, 5],
      'every good event arrives, in commit order',
    );

    const letters = await consumeAll({
      brokers: kafkaBrokers,
      topics: [s.names.deadLetterTopic],
      atLeast: 4,
    });
    const byId = new Map(letters.map((l) => [l.headers.event_id, l]));
    const expectReason = (row: Row, reason: string) => {
      const letter = byId.get(row.id);
      assert.ok(letter, `no dead letter for ${reason}`);
      assert.equal(letter.headers.dlq_reason, reason);
      assert.ok(letter.headers.dlq_detail);
      assert.match(letter.headers.dlq_commit_lsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
      const original = JSON.parse(letter.value.toString()) as Record<string, string | null>;
      assert.equal(original.id, row.id, 'the dead letter carries the original row');
      return letter;
    };
    expectReason(noKey, 'missing-aggregate-id');
    expectReason(badHeaders, 'malformed-headers');
    const unroutable = expectReason(badTopic, 'unroutable');
    assert.match(unroutable.headers.dlq_detail ?? '', /no spaces allowed/);
    const reserved = expectReason(ownTopic, 'unroutable');
    assert.match(
      reserved.headers.dlq_detail ?? '',
      /dead-letter topic \(RELAY_DEAD_LETTER_TOPIC\)/,
    );
    assert.equal(letters.length, 4);

    const text = await relay.metrics.registry.getSingleMetricAsString(
      'outbox_relay_dead_letters_total',
    );
    assert.match(text, /reason="missing-aggregate-id"\} 1/);
  } finally {
    await relay.stop();
  }
});
