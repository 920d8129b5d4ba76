/**
 * Events without a table: pg_logical_emit_message(true, RELAY_MESSAGE_PREFIX, <json>) relayed
 * like rows, in the same transactions as rows, with the same guarantees, counted by the
 * independent Java reader; and what is not an event (a rolled-back transaction's message, one
 * with another prefix, one written outside a transaction, content that is not an event).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { quoteIdent } from '../../src/db/sql.ts';
import { consumeAll } from '../support/consume.ts';
import { insertEvents, planEvents, type OutboxNames, type TestEvent } from '../support/fixtures.ts';
import { countWithJava } from '../support/java-reader.ts';
import { spawnRelay } from '../support/relay.ts';
import { scenario, stopRelay, type Scenario } from '../support/scenario.ts';

const PREFIX = 'outbox-events';

let s: Scenario;

before(async () => {
  s = await scenario('messages', { RELAY_MESSAGE_PREFIX: PREFIX });
});

after(async () => {
  await s?.cleanup();
});

function content(e: TestEvent): string {
  return JSON.stringify({
    id: e.id,
    aggregate_type: e.aggregateType,
    aggregate_id: e.aggregateId,
    event_type: e.eventType,
    payload: e.payload,
    headers: { source: 'message' },
  });
}

async function emit(client: pg.ClientBase, prefix: string, text: string, transactional = true) {
  await client.query('SELECT pg_logical_emit_message($1, $2, $3)', [transactional, prefix, text]);
}

/**
 * Each transaction alternates rows and messages, event by event, so that their order within a
 * transaction is tested too.
 */
async function writeMixed(pool: pg.Pool, names: OutboxNames, transactions: TestEvent[][]) {
  const table = `${quoteIdent(names.schema)}.${quoteIdent(names.table)}`;
  const client = await pool.connect();
  try {
    for (const tx of transactions) {
      await client.query('BEGIN');
      for (const [i, e] of tx.entries()) {
        if (i % 2 === 0) await insertEvents(client, table, [e]);
        else await emit(client, PREFIX, content(e));
      }
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
}

test('relays messages with the prefix like rows, in commit order, and dead-letters what is not an event', async (t) => {
  const transactions = planEvents({ total: 1500, aggregates: 60, sizes: [1, 2, 7, 40, 3] });
  const events = transactions.flat();
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    const client = await s.pool.connect();
    try {
      // A rolled-back transaction's message is never decoded; another prefix is not ours.
      await client.query('BEGIN');
      await emit(client, PREFIX, content({ ...events[0]!, id: crypto.randomUUID() }));
      await client.query('ROLLBACK');
      await emit(client, 'someone-else', content({ ...events[0]!, id: crypto.randomUUID() }));
      // Written outside a transaction, and content that is no event: dead letters.
      await emit(client, PREFIX, '{"id":"loose"}', false);
      await client.query('BEGIN');
      await emit(client, PREFIX, 'not json');
      await emit(client, PREFIX, JSON.stringify({ id: 'no-key', aggregate_type: 'order' }));
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await writeMixed(s.pool, s.names, transactions);

    const count = await countWithJava(s.brokers, (e) => s.names.topic(e.aggregateType), events);
    t.diagnostic(`messages: ${JSON.stringify({ ...count, lostIds: count.lostIds.length })}`);
    assert.deepEqual(
      {
        lost: count.lost,
        duplicated: count.duplicated,
        reordered: count.reordered,
        undecodable: count.undecodable,
        wrongKey: count.wrongKey,
        wrongPartition: count.wrongPartition,
      },
      { lost: 0, duplicated: 0, reordered: 0, undecodable: 0, wrongKey: 0, wrongPartition: 0 },
    );

    const letters = await consumeAll({
      brokers: s.brokers,
      topics: [s.names.deadLetterTopic],
      atLeast: 3,
      timeoutMs: 30_000,
    });
    const reasons = letters.map((l) => l.headers.dlq_reason).sort();
    assert.deepEqual(reasons, [
      'malformed-message',
      'missing-aggregate-id',
      'non-transactional-message',
    ]);
    const loose = letters.find((l) => l.headers.dlq_reason === 'non-transactional-message');
    assert.match(loose?.value.toString() ?? '', /loose/, 'the dead letter carries the content');
  } finally {
    assert.equal(await stopRelay(relay), 0);
  }
});

test('messages survive kill -9 under load: nothing lost or reordered', async (t) => {
  const c = await scenario('messages-crash', { RELAY_MESSAGE_PREFIX: PREFIX });
  t.after(() => c.cleanup());
  const transactions = planEvents({ total: 6000, aggregates: 100, sizes: [1, 10, 3, 60] });
  const events = transactions.flat();
  const writing = writeMixed(c.pool, c.names, transactions);
  let relay = spawnRelay(c.env);
  try {
    for (const delay of [700, 1100, 500]) {
      await relay.waitForLog('streaming');
      await new Promise((r) => setTimeout(r, delay));
      relay.process.kill('SIGKILL');
      await relay.exited;
      relay = spawnRelay(c.env);
    }
    await writing;
    const count = await countWithJava(c.brokers, (e) => c.names.topic(e.aggregateType), events);
    t.diagnostic(
      `messages after 3 kills: ${JSON.stringify({ ...count, lostIds: count.lostIds.length })}`,
    );
    assert.equal(count.lost, 0, `lost: ${count.lostIds.slice(0, 5).join(', ')}`);
    assert.equal(count.reordered, 0);
    assert.equal(count.undecodable, 0);
  } finally {
    await stopRelay(relay);
  }
});
