/**
 * DDL on the outbox and its publication while the relay runs, through the real CLI: what it did
 * before was confirm the slot past rows it never published (renamed outbox, another published
 * table) or dead-letter every event (headers dropped, created_at without time zone).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { consumeAll, decodeAll } from '../support/consume.ts';
import { spawnRelay } from '../support/relay.ts';
import { scenario, stopRelay, type Scenario } from '../support/scenario.ts';
import { quoteIdent } from '../../src/db/sql.ts';

interface Inserted {
  id: string;
  seq: number;
}

/** Inserts `count` events of aggregate o-1 in one transaction into `table` (default: the outbox). */
async function insert(
  s: Scenario,
  firstSeq: number,
  count: number,
  options: { table?: string; createdAt?: string } = {},
): Promise<Inserted[]> {
  const table = `${quoteIdent(s.names.schema)}.${quoteIdent(options.table ?? s.names.table)}`;
  const rows: Inserted[] = [];
  const client = await s.pool.connect();
  try {
    await client.query('BEGIN');
    for (let seq = firstSeq; seq < firstSeq + count; seq++) {
      const row = { id: randomUUID(), seq };
      const columns = ['id', 'aggregate_type', 'aggregate_id', 'event_type', 'payload'];
      const values = [row.id, 'order', 'o-1', 'changed', JSON.stringify({ seq })];
      if (options.createdAt) {
        columns.push('created_at');
        values.push(options.createdAt);
      }
      const params = values.map((_, i) => `$${i + 1}`).join(', ');
      await client.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES (${params})`, values);
      rows.push(row);
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  return rows;
}

async function readOrders(s: Scenario, atLeast: number) {
  const records = await consumeAll({
    brokers: s.brokers,
    topics: [s.names.topic('order')],
    atLeast,
    timeoutMs: 60_000,
  });
  return decodeAll(records);
}

/** Every inserted event arrived, once, in order. */
function assertAll(received: Awaited<ReturnType<typeof readOrders>>, inserted: Inserted[]) {
  assert.deepEqual(
    received.map((r) => r.event.event_id),
    inserted.map((r) => r.id),
    'every event arrives once, in commit order: 0 lost',
  );
}

async function withRelay(
  label: string,
  body: (s: Scenario, logs: () => unknown[]) => Promise<void>,
) {
  const s = await scenario(label);
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    await body(s, () => relay.logs);
    assert.equal(await stopRelay(relay), 0);
  } finally {
    if (relay.process.exitCode === null) relay.process.kill('SIGKILL');
    await s.cleanup();
  }
}

test('keeps relaying a renamed outbox (the publication follows it by OID), with a warning', async () => {
  await withRelay('ddl_rename', async (s, logs) => {
    const before = await insert(s, 0, 3);
    const renamed = `${s.names.table}_v2`;
    await s.pool.query(
      `ALTER TABLE ${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)} RENAME TO ${quoteIdent(renamed)}`,
    );
    const after = await insert(s, 3, 4, { table: renamed });
    assertAll(await readOrders(s, 7), [...before, ...after]);
    const warning = logs().find(
      (l) =>
        typeof (l as { msg?: unknown }).msg === 'string' &&
        /renamed/.test((l as { msg: string }).msg),
    ) as Record<string, unknown> | undefined;
    assert.ok(warning, 'the rename is logged');
    assert.equal(warning.relation, `${s.names.schema}.${renamed}`);
  });
});

test('dead-letters a row of another table in the publication instead of confirming past it', async () => {
  await withRelay('ddl_foreign', async (s) => {
    const other = `${s.names.table}_other`;
    await s.pool.query(`CREATE TABLE ${quoteIdent(other)} (id int PRIMARY KEY, note text)`);
    await s.pool.query(
      `ALTER PUBLICATION ${quoteIdent(s.names.publication)} ADD TABLE ${quoteIdent(other)}`,
    );
    const before = await insert(s, 0, 2);
    await s.pool.query(`INSERT INTO ${quoteIdent(other)} VALUES (7, 'not an event')`);
    const after = await insert(s, 2, 2);

    assertAll(await readOrders(s, 4), [...before, ...after]);
    const letters = await consumeAll({
      brokers: s.brokers,
      topics: [s.names.deadLetterTopic],
      atLeast: 1,
      timeoutMs: 60_000,
    });
    assert.equal(letters.length, 1);
    const letter = letters[0]!;
    assert.equal(letter.headers.dlq_reason, 'foreign-table');
    assert.match(letter.headers.dlq_detail ?? '', new RegExp(`public\\.${other}`));
    assert.deepEqual(JSON.parse(letter.value.toString()), { id: '7', note: 'not an event' });
  });
});

test('keeps events flowing, without headers, after the optional headers column is dropped', async () => {
  await withRelay('ddl_headers', async (s) => {
    const before = await insert(s, 0, 2);
    await s.pool.query(
      `ALTER TABLE ${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)} DROP COLUMN headers`,
    );
    const after = await insert(s, 2, 3);
    const received = await readOrders(s, 5);
    assertAll(received, [...before, ...after]);
    assert.deepEqual(received.at(-1)?.event.headers, {});
  });
});

test('reads created_at of type timestamp (without time zone) as UTC', async () => {
  await withRelay('ddl_timestamp', async (s) => {
    const table = `${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)}`;
    await s.pool.query(
      `ALTER TABLE ${table} ALTER COLUMN created_at TYPE timestamp USING created_at AT TIME ZONE 'UTC'`,
    );
    const rows = await insert(s, 0, 2, { createdAt: '2026-11-22 03:00:05.123456' });
    const received = await readOrders(s, 2);
    assertAll(received, rows);
    for (const r of received) assert.equal(r.event.created_at, 1_795_316_405_123_456n);
  });
});
