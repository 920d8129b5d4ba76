/**
 * The relay with a real Confluent-compatible registry (Apicurio Registry's ccompat API, started
 * by the test harness): schemas registered under their subjects, values in the Confluent wire
 * format that decode with the schema the registry returns for their id, compatible evolution
 * accepted, and an incompatible schema refused at start by `run` (nothing published, nothing
 * acknowledged) and by `schemas check` (naming the field and the rule).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import avro from 'avsc';
import { quoteIdent } from '../../src/db/sql.ts';
import { createRegistryClient, type RegistryClient } from '../../src/encode/registry-client.ts';
import { CONFLUENT_HEADER_LENGTH } from '../../src/encode/registry-wire-format.ts';
import { eventSchemaOptions } from '../../src/encode/schema-directory.ts';
import { consumeAll, type ConsumedRecord } from '../support/consume.ts';
import { services } from '../support/fixtures.ts';
import { runCli, spawnRelay, waitFor, type RelayChild } from '../support/relay.ts';
import { scenario, stopRelay, type Scenario } from '../support/scenario.ts';
import { confirmedFlush } from '../support/slot.ts';

const SCHEMA_DIR = 'test/fixtures/schemas';
const CANCELLED = 'com.example.orders.OrderCancelled';

/** An older OrderCancelled that the fixture's (which adds `reason` with a default) can read. */
const CANCELLED_V1 = JSON.stringify({
  type: 'record',
  name: 'OrderCancelled',
  namespace: 'com.example.orders',
  fields: [{ name: 'orderId', type: 'string' }],
});

/** An OrderCancelled without `orderId`: the fixture, as a reader, has no default for it. */
const CANCELLED_WITHOUT_ORDER_ID = JSON.stringify({
  type: 'record',
  name: 'OrderCancelled',
  namespace: 'com.example.orders',
  fields: [{ name: 'reason', type: ['null', 'string'], default: null }],
});

let registryUrl = '';
let registry: RegistryClient;
const skipReason = 'no schema registry: the env services kind needs RELAY_TEST_REGISTRY_URL';

before(async () => {
  registryUrl = (await services()).registryUrl;
  if (registryUrl) registry = createRegistryClient({ url: registryUrl });
});

async function insert(s: Scenario, rows: { eventType: string; payload: unknown }[]) {
  const table = `${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)}`;
  const ids: string[] = [];
  const client = await s.pool.connect();
  try {
    await client.query('BEGIN');
    for (const [i, row] of rows.entries()) {
      const id = randomUUID();
      ids.push(id);
      await client.query(
        `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload) VALUES ($1, 'order', $2, $3, $4)`,
        [id, `order-${i % 3}`, row.eventType, JSON.stringify(row.payload)],
      );
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  return ids;
}

/** [0, id, body]: the id's schema from the registry decodes the body. */
async function decodeConfluent(
  bytes: Buffer,
): Promise<{ id: number; value: unknown; name: string }> {
  assert.equal(bytes[0], 0, 'magic byte 0');
  const id = bytes.readUInt32BE(1);
  const text = await registry.schemaById(id);
  const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema, eventSchemaOptions());
  return {
    id,
    // As plain data: avsc decodes records and union branches into class instances.
    value: JSON.parse(
      JSON.stringify(type.fromBuffer(bytes.subarray(CONFLUENT_HEADER_LENGTH)), (_k, v: unknown) =>
        typeof v === 'bigint' ? v.toString() : v,
      ),
    ) as unknown,
    name: type.name ?? String(type.typeName),
  };
}

describe('schema registry', () => {
  describe('the relay registers schemas and writes the Confluent wire format', () => {
    let s: Scenario;
    let relay: RelayChild;
    let records: ConsumedRecord[] = [];
    let ids: string[] = [];

    before(async () => {
      if (!registryUrl) return;
      s = await scenario('registry', {
        RELAY_SCHEMA_DIR: SCHEMA_DIR,
        RELAY_SCHEMA_REGISTRY_URL: registryUrl,
        RELAY_KEY_FORMAT: 'avro',
      });
      // An earlier, compatible version of one schema is already there; the relay adds its own.
      await registry.register(`${s.names.topic('order')}-${CANCELLED}`, CANCELLED_V1);
      relay = spawnRelay(s.env);
      await relay.waitForLog('event schemas are compatible with the registry');
      ids = await insert(s, [
        { eventType: 'OrderCancelled', payload: { orderId: 'o-1', reason: 'late' } },
        { eventType: 'NoSchemaHere', payload: { any: 'thing' } },
        { eventType: 'OrderCancelled', payload: { orderId: 'o-2' } },
      ]);
      records = await consumeAll({
        brokers: s.brokers,
        topics: [s.names.topic('order')],
        atLeast: ids.length,
      });
    });

    after(async () => {
      if (relay) await stopRelay(relay);
      await s?.cleanup();
    });

    test('every value decodes with the schema its id names', async (t) => {
      if (!registryUrl) return t.skip(skipReason);
      const decoded = await Promise.all(records.map((r) => decodeConfluent(r.value)));
      const byEvent = new Map(records.map((r, i) => [r.headers.event_id, decoded[i]]));
      assert.deepEqual(byEvent.get(ids[0])?.value, { orderId: 'o-1', reason: { string: 'late' } });
      assert.deepEqual(byEvent.get(ids[2])?.value, { orderId: 'o-2', reason: null });
      assert.equal(byEvent.get(ids[0])?.name, CANCELLED);
      assert.equal(
        byEvent.get(ids[1])?.name,
        'io.outboxrelay.OutboxEvent',
        'no schema: the envelope',
      );
      assert.equal(byEvent.get(ids[0])?.id, byEvent.get(ids[2])?.id, 'one id per schema');
    });

    test('keys are Avro strings under their own subject, and partition as the id', async (t) => {
      if (!registryUrl) return t.skip(skipReason);
      for (const record of records) {
        assert.ok(record.keyBytes);
        const key = await decodeConfluent(record.keyBytes);
        assert.match(String(key.value), /^order-\d$/);
      }
    });

    test('the subject holds the earlier version and the relay’s, in order', async (t) => {
      if (!registryUrl) return t.skip(skipReason);
      const versions = await registry.versions(`${s.names.topic('order')}-${CANCELLED}`);
      assert.equal(versions.length, 2);
      assert.deepEqual(JSON.parse(versions[0] ?? ''), JSON.parse(CANCELLED_V1));
      const envelopeSubject = `${s.names.topic('order')}-io.outboxrelay.OutboxEvent`;
      assert.equal((await registry.versions(envelopeSubject)).length, 1);
    });

    test('schemas check agrees: exit 0', async (t) => {
      if (!registryUrl) return t.skip(skipReason);
      const result = await runCli(['schemas', 'check'], s.env);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /BACKWARD compatible with 2 version\(s\)/);
    });
  });

  describe('an incompatible schema', () => {
    let s: Scenario;
    let subject = '';

    before(async () => {
      if (!registryUrl) return;
      s = await scenario('registry_incompatible', {
        RELAY_SCHEMA_DIR: SCHEMA_DIR,
        RELAY_SCHEMA_REGISTRY_URL: registryUrl,
      });
      subject = `${s.names.topic('order')}-${CANCELLED}`;
      await registry.register(subject, CANCELLED_WITHOUT_ORDER_ID);
    });

    after(async () => {
      await s?.cleanup();
    });

    test('stops the relay at start: nothing published, nothing acknowledged', async (t) => {
      if (!registryUrl) return t.skip(skipReason);
      await insert(s, [{ eventType: 'OrderCancelled', payload: { orderId: 'o-1' } }]);
      const before = await confirmedFlush(s.pool, s.names.slot);
      const relay = spawnRelay(s.env);
      const code = await relay.exited;
      assert.equal(code, 1);
      const fatal = relay.logs.find((l) => l.msg === 'refusing to start');
      assert.ok(fatal, JSON.stringify(relay.logs.slice(-3)));
      const message = JSON.stringify(fatal);
      assert.match(message, /READER_FIELD_MISSING_DEFAULT_VALUE/);
      assert.match(message, /orderId/);
      assert.match(message, new RegExp(subject.replaceAll('.', '\\.')));
      assert.equal(await confirmedFlush(s.pool, s.names.slot), before, 'the slot did not move');
      assert.equal((await registry.versions(subject)).length, 1, 'nothing was registered');
    });

    test('schemas check names the field and the rule: exit 1, and --json for scripts', async (t) => {
      if (!registryUrl) return t.skip(skipReason);
      const text = await runCli(['schemas', 'check'], s.env);
      assert.equal(text.code, 1, text.stdout + text.stderr);
      assert.match(
        text.stdout,
        /✗ \S*OrderCancelled\.avsc -> subject ".*": READER_FIELD_MISSING_DEFAULT_VALUE at .*orderId/,
      );
      assert.match(text.stdout, /1 subject\(s\) incompatible at BACKWARD/);
      const json = await runCli(['schemas', 'check', '--json'], s.env);
      assert.equal(json.code, 1);
      const reports = JSON.parse(json.stdout) as {
        subject: string;
        problems: { rule: string }[];
      }[];
      const mine = reports.find((r) => r.subject === subject);
      assert.deepEqual(
        mine?.problems.map((p) => p.rule),
        ['READER_FIELD_MISSING_DEFAULT_VALUE'],
      );
    });

    test('at level NONE it starts, and registers the new version', async (t) => {
      if (!registryUrl) return t.skip(skipReason);
      const relay = spawnRelay({ ...s.env, RELAY_SCHEMA_COMPATIBILITY: 'NONE' });
      try {
        const records = await consumeAll({
          brokers: s.brokers,
          topics: [s.names.topic('order')],
          atLeast: 1,
        });
        assert.equal(records.length, 1);
        await waitFor(async () => (await registry.versions(subject)).length === 2, 10_000, 'v2');
      } finally {
        await stopRelay(relay);
      }
    });
  });
});
