import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { quoteIdent } from '../../src/db/sql.ts';
import { dropOutbox, prepareOutbox, services, uniqueNames } from '../support/fixtures.ts';
import { relayEnv, runCli, spawnRelay, waitFor } from '../support/relay.ts';

const names = uniqueNames('ops');

before(async () => {
  await prepareOutbox((await services()).pgUrl, names);
});

after(async () => {
  await dropOutbox((await services()).pgUrl, names);
});

test('migrate applies the migrations once and does nothing the second time', async () => {
  const { pgUrl } = await services();
  const fresh = uniqueNames('migrate');
  const env = {
    RELAY_PG_URL: pgUrl,
    RELAY_OUTBOX_TABLE: fresh.table,
    RELAY_PUBLICATION: fresh.publication,
    RELAY_SLOT: fresh.slot,
  };
  try {
    const first = await runCli(['migrate', '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    const firstResult = JSON.parse(first.stdout) as { applied: string[]; slotCreated: boolean };
    assert.ok(firstResult.applied.length >= 2);
    assert.equal(firstResult.slotCreated, true);
    const second = await runCli(['migrate', '--json'], env);
    assert.equal(second.code, 0, second.stderr);
    const { slotFailover, ...secondResult } = JSON.parse(second.stdout) as Record<string, unknown>;
    assert.deepEqual(secondResult, {
      applied: [],
      alreadyApplied: firstResult.applied,
      foreignTable: false,
      slot: fresh.slot,
      slotCreated: false,
    });
    // null before PostgreSQL 17 (no failover slots), true from 17 on.
    assert.ok(slotFailover === null || slotFailover === true, String(slotFailover));
    const db = new pg.Client({ connectionString: pgUrl });
    await db.connect();
    const pub = await db.query(
      'SELECT pubinsert, pubupdate, pubdelete FROM pg_publication WHERE pubname = $1',
      [fresh.publication],
    );
    await db.end();
    assert.deepEqual(pub.rows, [{ pubinsert: true, pubupdate: false, pubdelete: false }]);
  } finally {
    await dropOutbox(pgUrl, fresh);
  }
});

test('migration 0003 lets a role that could insert into the outbox go on inserting (USAGE on the tx_seq sequence)', async () => {
  const { pgUrl } = await services();
  const legacy = uniqueNames('migrate_writer');
  const role = `writer_${legacy.id}`;
  const table = `${quoteIdent(legacy.schema)}.${quoteIdent(legacy.table)}`;
  await prepareOutbox(pgUrl, legacy, { before: 3, slot: false });
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN`);
    await admin.query(`GRANT INSERT ON ${table} TO ${quoteIdent(role)}`);
    const env = { RELAY_PG_URL: pgUrl, RELAY_OUTBOX_TABLE: legacy.table };
    const migrated = await runCli(['migrate', '--no-slot'], { ...env, RELAY_SLOT: legacy.slot });
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /^applied 0003_outbox_commit_order\.sql$/m);
    const url = new URL(pgUrl);
    url.username = role;
    const writer = new pg.Client({ connectionString: url.toString() });
    await writer.connect();
    try {
      await writer.query(
        `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload)
         VALUES (gen_random_uuid(), 'order', 'o-1', 'order.created', '{}')`,
      );
    } finally {
      await writer.end();
    }
    const { rows } = await admin.query<{ filled: boolean }>(
      `SELECT tx_id IS NOT NULL AND tx_seq IS NOT NULL AS filled FROM ${table}`,
    );
    assert.deepEqual(rows, [{ filled: true }]);
  } finally {
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
    await admin.end();
    await dropOutbox(pgUrl, legacy);
  }
});

test('a bad setting stops the relay at start with exit code 2, naming it, without printing secrets', async () => {
  const result = await runCli(['run'], {
    RELAY_PG_URL: 'postgres://relay:hunter2-secret@127.0.0.1:1/db',
    RELAY_KAFKA_BROKERS: '127.0.0.1:9092',
    RELAY_TOPIC_PARTITIONS: 'many',
    RELAY_TOPIC_TEMPLATE: 'outbox.{nope}',
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /RELAY_TOPIC_PARTITIONS: must be a whole number; got "many"/);
  assert.doesNotMatch(result.stdout + result.stderr, /hunter2-secret/);
});

test('a missing publication stops the relay with a message that says to run migrate', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const missing = uniqueNames('nopub');
  const result = await runCli(['run'], relayEnv(pgUrl, kafkaBrokers, missing));
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`publication "${missing.publication}" does not exist`));
  assert.match(result.stderr, /what to do: .*outbox-relay migrate/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'a message for a person, not a stack trace');
});

test('health, readiness and metrics report a streaming relay, and secrets stay out of its logs', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  // The throwaway cluster trusts local connections, so the password is sent nowhere, but the
  // relay holds it in its configuration like any other.
  const url = new URL(pgUrl);
  url.username ||= 'postgres';
  url.password = 'unused-secret-pw';
  const relay = spawnRelay(relayEnv(url.toString(), kafkaBrokers, names));
  try {
    await relay.waitForLog('streaming');
    const port = await relay.httpPort;
    const get = async (path: string) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: response.status, text: await response.text() };
    };
    await waitFor(async () => (await get('/readyz')).status === 200, 10_000, '/readyz to be ready');
    const ready = JSON.parse((await get('/readyz')).text) as {
      stream: string;
      failing: string[];
      postgres: { ok: boolean };
      kafka: { ok: boolean };
    };
    assert.equal(ready.stream, 'streaming');
    assert.deepEqual(ready.failing, []);
    assert.ok(ready.postgres.ok && ready.kafka.ok);
    assert.equal((await get('/livez')).status, 200);
    assert.equal((await get('/healthz')).status, 200, '/healthz is an alias of /livez');
    const metrics = await get('/metrics');
    for (const name of [
      'outbox_relay_events_published_total',
      'outbox_relay_publish_errors_total',
      'outbox_relay_slot_lag_bytes',
      'outbox_relay_in_flight_events',
      'outbox_relay_slot_wal_status',
      'outbox_relay_slot_safe_wal_size_bytes',
      'outbox_relay_slot_conflicting',
      'outbox_relay_slot_invalidated',
      'outbox_relay_slot_held',
      'outbox_relay_slot_check_errors_total',
    ]) {
      assert.match(metrics.text, new RegExp(`# HELP ${name} `));
    }
    assert.equal((await get('/nope')).status, 404);
  } finally {
    relay.process.kill('SIGTERM');
    assert.equal(await relay.exited, 0);
  }
  assert.doesNotMatch(JSON.stringify(relay.logs), /unused-secret-pw/);
});
