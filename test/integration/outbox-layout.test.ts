/**
 * Any outbox table layout (issue 14): a table shaped like Debezium's default outbox, which
 * `migrate` only publishes, relayed with RELAY_OUTBOX_LAYOUT=debezium and RELAY_VALUE_FORMAT=raw
 * under a writer and counted by the independent Java reader; a custom mapping with its own key
 * column and additional columns as headers and envelope fields; a mapped column the table
 * lacks; and replay through the same mapping.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { quoteIdent } from '../../src/db/sql.ts';
import { extendedEnvelopeSchema } from '../../src/encode/envelope.ts';
import {
  dropOutbox,
  planEvents,
  services,
  uniqueNames,
  type OutboxNames,
  type TestEvent,
} from '../support/fixtures.ts';
import { countWithJava, readAllWithJava } from '../support/java-reader.ts';
import { relayEnv, runCli, spawnRelay } from '../support/relay.ts';
import { stopRelay } from '../support/scenario.ts';

let pgUrl: string;
let brokers: string[];
let pool: pg.Pool;
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  const found = await services();
  pgUrl = found.pgUrl;
  brokers = found.kafkaBrokers;
  pool = new pg.Pool({ connectionString: pgUrl, max: 2 });
});

after(async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  await pool?.end();
});

function qualified(names: OutboxNames): string {
  return `${quoteIdent(names.schema)}.${quoteIdent(names.table)}`;
}

/** A fresh table of `ddl` (its columns), dropped with its slot and publication at the end. */
async function tableOf(label: string, ddl: string): Promise<OutboxNames> {
  const names = uniqueNames(label);
  await pool.query(`CREATE TABLE ${qualified(names)} (${ddl})`);
  cleanups.push(async () => {
    await dropOutbox(pgUrl, names);
    await pool.query(`DROP TABLE IF EXISTS ${qualified(names)}`);
  });
  return names;
}

// Debezium's documented outbox table, without the optional timestamp and tracing columns.
const DEBEZIUM_TABLE = `id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL,
  aggregateid varchar(255) NOT NULL, type varchar(255) NOT NULL, payload jsonb`;

async function writeDebezium(names: OutboxNames, transactions: readonly TestEvent[][]) {
  const client = await pool.connect();
  try {
    for (const tx of transactions) {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO ${qualified(names)} (id, aggregatetype, aggregateid, type, payload)
         SELECT id::uuid, at, ai, et, p::jsonb
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
             AS u(id, at, ai, et, p)`,
        [
          tx.map((e) => e.id),
          tx.map((e) => e.aggregateType),
          tx.map((e) => e.aggregateId),
          tx.map((e) => e.eventType),
          tx.map((e) => JSON.stringify(e.payload)),
        ],
      );
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
}

async function migrateJson(env: Record<string, string>) {
  const result = await runCli(['migrate', '--json'], env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const DEBEZIUM_ENV = { RELAY_OUTBOX_LAYOUT: 'debezium', RELAY_VALUE_FORMAT: 'raw' };

test('relays a Debezium-shaped outbox, which migrate only publishes, as raw payloads with an id header, none lost, duplicated or reordered; replay goes through the same mapping', async () => {
  const names = await tableOf('dbz', DEBEZIUM_TABLE);
  const env = relayEnv(pgUrl, brokers, names, DEBEZIUM_ENV);
  const migrated = await migrateJson(env);
  assert.equal(migrated.foreignTable, true);
  assert.equal(migrated.publicationCreated, true);
  assert.deepEqual(migrated.applied, []);
  const { rows } = await pool.query<{ history: string | null; tx_id: number }>(
    `SELECT to_regclass($1) AS history,
            (SELECT count(*)::int FROM pg_attribute WHERE attrelid = $2::regclass
               AND attname = 'tx_id') AS tx_id`,
    [`${names.table}_relay_migrations`, qualified(names)],
  );
  assert.deepEqual(rows[0], { history: null, tx_id: 0 }, 'the table is left as it was');
  assert.equal((await migrateJson(env)).publicationCreated, false, 'migrate runs twice');

  const transactions = planEvents({ total: 1200, aggregates: 40, sizes: [1, 3, 9, 2] });
  const events = transactions.flat();
  const relay = spawnRelay(env);
  try {
    await relay.waitForLog('streaming');
    await writeDebezium(names, transactions);
    const count = await countWithJava(brokers, (e) => names.topic(e.aggregateType), events, {
      mode: 'raw',
      timeoutMs: 30_000,
    });
    assert.deepEqual(
      { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
      { lost: 0, duplicated: 0, reordered: 0 },
    );
    assert.equal(count.undecodable, 0);
    assert.equal(count.wrongPartition, 0);
  } finally {
    assert.equal(await stopRelay(relay), 0);
  }

  const topics = [...new Set(events.map((e) => names.topic(e.aggregateType)))];
  const records = await readAllWithJava(brokers, topics, 'read_uncommitted', 'raw');
  const first = records.find((r) => r.eventId === events[0]?.id);
  const stored = await pool.query<{ payload: string }>(
    `SELECT payload::text AS payload FROM ${qualified(names)} WHERE id = $1`,
    [events[0]?.id],
  );
  assert.equal(first?.payload, stored.rows[0]?.payload, 'the value is the payload as stored');
  assert.equal(first?.headers.id, events[0]?.id);
  assert.equal(first?.headers.event_type, events[0]?.eventType);
  assert.equal(first?.headers['content-type'], undefined, 'a raw value is not Avro');

  const replayed = await runCli(['replay', '--all', '--order', 'created-at', '--json'], env);
  assert.equal(replayed.code, 0, replayed.stderr);
  const summary = JSON.parse(replayed.stdout) as { sent: number; skipped: number };
  assert.deepEqual({ sent: summary.sent, skipped: summary.skipped }, { sent: 1200, skipped: 0 });
  const again = await readAllWithJava(brokers, topics, 'read_uncommitted', 'raw');
  const replays = again.filter((r) => r.headers.replay === 'true');
  assert.equal(replays.length, 1200);
  assert.ok(replays.every((r) => r.undecodable === null && r.eventId === r.headers.id));
  assert.equal(new Set(replays.map((r) => r.eventId)).size, 1200);
});

// A table of its own naming: key by tenant, region and tenant as headers, Avro values.
const CUSTOM_TABLE = `event_uuid uuid PRIMARY KEY, kind text NOT NULL, entity text NOT NULL,
  what text NOT NULL, body text NOT NULL, at timestamptz NOT NULL DEFAULT now(),
  tenant text NOT NULL, region text`;

const CUSTOM_ENV = {
  RELAY_COLUMN_ID: 'event_uuid',
  RELAY_COLUMN_AGGREGATE_TYPE: 'kind',
  RELAY_COLUMN_AGGREGATE_ID: 'entity',
  RELAY_COLUMN_EVENT_TYPE: 'what',
  RELAY_COLUMN_PAYLOAD: 'body',
  RELAY_COLUMN_CREATED_AT: 'at',
  RELAY_COLUMN_HEADERS: 'none',
  RELAY_KEY_COLUMN: 'tenant',
  RELAY_ADDITIONAL_COLUMNS: 'region:header,tenant:header:x-tenant,region:envelope:region_code',
};

const tenantOf = (e: TestEvent) => `tenant-${Number(e.aggregateId.slice(4)) % 5}`;

test('relays a custom mapping with its key column and additional columns as headers and envelope fields, in the Avro envelope', async () => {
  const names = await tableOf('custom', CUSTOM_TABLE);
  const env = relayEnv(pgUrl, brokers, names, CUSTOM_ENV);
  assert.equal((await migrateJson(env)).foreignTable, true);
  // Avro Java reads the relay's records with the envelope and its appended field.
  const schemaDir = mkdtempSync(join(tmpdir(), 'layout-'));
  const schemaFile = join(schemaDir, 'envelope.avsc');
  const extended = extendedEnvelopeSchema(['region_code']).type.schema({ exportAttrs: true });
  writeFileSync(schemaFile, JSON.stringify(extended));
  cleanups.push(() => Promise.resolve(rmSync(schemaDir, { recursive: true })));
  const transactions = planEvents({ total: 300, aggregates: 20, sizes: [1, 4] });
  const events = transactions.flat();
  const relay = spawnRelay(env);
  try {
    await relay.waitForLog('streaming');
    for (const tx of transactions) {
      const values = tx.flatMap((e) => [
        e.id,
        e.aggregateType,
        e.aggregateId,
        e.eventType,
        JSON.stringify(e.payload),
        tenantOf(e),
        e.seq % 2 === 0 ? 'eu' : null,
      ]);
      const rows = tx.map(
        (_, i) => `(${[1, 2, 3, 4, 5, 6, 7].map((k) => `$${i * 7 + k}`).join(', ')})`,
      );
      await pool.query(
        `INSERT INTO ${qualified(names)} (event_uuid, kind, entity, what, body, tenant, region)
         VALUES ${rows.join(', ')}`,
        values,
      );
    }
    const count = await countWithJava(brokers, (e) => names.topic(e.aggregateType), events, {
      timeoutMs: 30_000,
      envelopeFile: schemaFile,
    });
    assert.deepEqual(
      { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
      { lost: 0, duplicated: 0, reordered: 0 },
    );
    assert.equal(count.undecodable, 0);
    assert.equal(count.wrongPartition, 0);
  } finally {
    assert.equal(await stopRelay(relay), 0);
  }
  const topics = [...new Set(events.map((e) => names.topic(e.aggregateType)))];
  const records = await readAllWithJava(brokers, topics, 'read_uncommitted', 'avro', schemaFile);
  assert.equal(records.length, events.length);
  const byId = new Map(events.map((e) => [e.id, e]));
  for (const record of records) {
    const event = byId.get(record.eventId ?? '');
    assert.ok(event, `unexpected record ${record.eventId}`);
    assert.equal(record.key, tenantOf(event), 'keyed by RELAY_KEY_COLUMN');
    assert.equal(record.aggregateId, event.aggregateId, 'the envelope keeps the aggregate id');
    assert.equal(record.headers['x-tenant'], tenantOf(event));
    assert.equal(record.headers.region, event.seq % 2 === 0 ? 'eu' : undefined, 'NULL: no header');
    assert.equal(record.headers.id, undefined, 'the id header is the debezium layout only');
    assert.equal(record.record?.region_code, event.seq % 2 === 0 ? 'eu' : null);
  }
});

test('stops with exit code 2 naming the setting and column when the table lacks a mapped column; migrate creates no table of another layout', async () => {
  const names = await tableOf('missing', DEBEZIUM_TABLE);
  const env = relayEnv(pgUrl, brokers, names, {
    ...DEBEZIUM_ENV,
    RELAY_COLUMN_EVENT_TYPE: 'event_kind',
    RELAY_ADDITIONAL_COLUMNS: 'region:header',
  });
  assert.equal((await migrateJson(env)).foreignTable, true);
  const result = await runCli(['run'], env, 60_000);
  const output = result.stdout + result.stderr;
  assert.equal(result.code, 2, output);
  assert.match(output, /RELAY_COLUMN_EVENT_TYPE names column \\?"event_kind\\?"/);
  assert.match(output, /RELAY_ADDITIONAL_COLUMNS names column \\?"region\\?"/);
  const absent = relayEnv(pgUrl, brokers, uniqueNames('absent'), DEBEZIUM_ENV);
  const refused = await runCli(['migrate'], absent);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /no table public\.outbox_absent_\w+ to publish/);
  const replayed = await runCli(['replay', '--all', '--dry-run'], env);
  assert.equal(replayed.code, 2, replayed.stdout + replayed.stderr);
  assert.match(replayed.stdout + replayed.stderr, /RELAY_COLUMN_EVENT_TYPE/);
});
