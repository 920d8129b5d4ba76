import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileRelation,
  DEFAULT_MAPPING_SETTINGS,
  isRelayTable,
  missingColumns,
  outboxMapping,
  parseAdditionalColumns,
  RELAY_MAPPING,
  type MappingSettings,
} from '../../../src/config/outbox-mapping.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { rowDecoder, rowToEvent } from '../../../src/decode/outbox-row.ts';
import type { Relation, TupleValue } from '../../../src/decode/pgoutput.ts';
import type { EventPosition } from '../../../src/domain/event.ts';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';

const POSITION: EventPosition = { commitLsn: lsnFromBigInt(0x2_0000_0010n), txSeq: 1, index: 0 };
const COMMIT_TIME = 1_795_316_405_123_456n;

const mapping = (settings: Partial<MappingSettings>) =>
  outboxMapping({ ...DEFAULT_MAPPING_SETTINGS, ...settings });

/** The relation and values pgoutput would send for `row` (25 = text, 3802 = jsonb). */
function sent(row: Record<string, string | null>, types: Record<string, number> = {}) {
  const names = Object.keys(row);
  const relation: Relation = {
    oid: 16_500,
    schema: 'public',
    name: 'outboxevent',
    columns: names.map((name) => ({ name, typeOid: types[name] ?? 25 })),
  };
  const values: TupleValue[] = names.map((name) => row[name] ?? null);
  return { relation, values };
}

const DEBEZIUM_ROW = {
  id: '6a1c3a0e-0c5d-4c8e-9d55-7c2f7d1e0b11',
  aggregatetype: 'order',
  aggregateid: 'order-7',
  type: 'OrderCreated',
  payload: '{"total": 12.5}',
};

test('the default settings map the relay table, which migrate may manage', () => {
  assert.deepEqual(mapping({}), RELAY_MAPPING);
  assert.equal(isRelayTable(RELAY_MAPPING), true);
  assert.equal(isRelayTable(mapping({ columnPayload: 'body' })), false);
  assert.equal(isRelayTable(mapping({ outboxLayout: 'debezium' })), false);
});

test("the debezium preset reads Debezium's outbox columns, with an id header and optional timestamp and tracing columns", () => {
  const debezium = mapping({ outboxLayout: 'debezium' });
  assert.equal(debezium.columns.eventType, 'type');
  assert.equal(debezium.keyColumn, 'aggregateid');
  assert.equal(debezium.idHeader, true);
  assert.deepEqual(missingColumns(debezium, new Set(Object.keys(DEBEZIUM_ROW))), []);
  const named = mapping({ outboxLayout: 'debezium', columnCreatedAt: 'timestamp' });
  assert.deepEqual(
    missingColumns(named, new Set(Object.keys(DEBEZIUM_ROW))).map((m) => m.setting),
    ['RELAY_COLUMN_CREATED_AT'],
    'a column a setting names is required',
  );
});

test('compiles column indexes once per relation, whatever the column order', () => {
  const { relation } = sent({ payload: '', type: '', id: '', aggregateid: '', aggregatetype: '' });
  const compiled = compileRelation(mapping({ outboxLayout: 'debezium' }), relation.columns);
  assert.deepEqual(
    [compiled.id, compiled.aggregateType, compiled.aggregateId, compiled.eventType],
    [2, 4, 3, 1],
  );
  assert.equal(compiled.payload, 0);
  assert.equal(compiled.createdAt, -1);
  assert.equal(compiled.key, compiled.aggregateId);
  assert.equal(compiled.missing, null);
});

test('decodes a Debezium row, its time the commit time when the table has no timestamp column', () => {
  const { relation, values } = sent(DEBEZIUM_ROW, { payload: 3802 });
  const decoder = rowDecoder(relation, mapping({ outboxLayout: 'debezium' }));
  const result = rowToEvent(relation, values, POSITION, decoder, COMMIT_TIME);
  assert.deepEqual(result, {
    ok: true,
    event: {
      id: DEBEZIUM_ROW.id,
      aggregateType: 'order',
      aggregateId: 'order-7',
      eventType: 'OrderCreated',
      payload: '{"total": 12.5}',
      headers: {},
      createdAtMicros: COMMIT_TIME,
      position: POSITION,
    },
  });
});

test('reads a Debezium timestamp column, and tracingspancontext as java.util.Properties text, when the table has them', () => {
  const row = {
    ...DEBEZIUM_ROW,
    timestamp: '2026-11-22 03:00:05.123456',
    tracingspancontext:
      '#Mon Dec 07 10:00:00 UTC 2026\ntraceparent=00-abc-def-01\nwith\\:colon : x\\u00e9',
  };
  const { relation, values } = sent(row, { timestamp: 1114 });
  const decoder = rowDecoder(relation, mapping({ outboxLayout: 'debezium' }));
  const result = rowToEvent(relation, values, POSITION, decoder, 0n);
  assert.ok(result.ok);
  assert.equal(result.event.createdAtMicros, COMMIT_TIME);
  assert.deepEqual(result.event.headers, { traceparent: '00-abc-def-01', 'with:colon': 'xé' });
});

test('takes the key from RELAY_KEY_COLUMN and additional columns as headers (a NULL one left out) and envelope fields (NULL kept)', () => {
  const row = { ...DEBEZIUM_ROW, tenant: 'acme', region: null, zone: 'z1' };
  const { relation, values } = sent(row);
  const custom = mapping({
    outboxLayout: 'debezium',
    keyColumn: 'tenant',
    additionalColumns: [
      { column: 'region', placement: 'header', name: 'region' },
      { column: 'zone', placement: 'header', name: 'x-zone' },
      { column: 'region', placement: 'envelope', name: 'region' },
      { column: 'zone', placement: 'envelope', name: 'zone' },
    ],
  });
  const result = rowToEvent(relation, values, POSITION, rowDecoder(relation, custom), 0n);
  assert.ok(result.ok);
  assert.equal(result.event.key, 'acme');
  assert.deepEqual(result.event.extraHeaders, { 'x-zone': 'z1' });
  assert.deepEqual(result.event.envelopeFields, { region: null, zone: 'z1' });
});

test('dead-letters a row whose key column is NULL, naming RELAY_KEY_COLUMN', () => {
  const { relation, values } = sent({ ...DEBEZIUM_ROW, tenant: null });
  const custom = mapping({ outboxLayout: 'debezium', keyColumn: 'tenant' });
  const result = rowToEvent(relation, values, POSITION, rowDecoder(relation, custom), 0n);
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(result.bad.reason, 'missing-aggregate-id');
  assert.match(result.bad.detail, /RELAY_KEY_COLUMN/);
  assert.equal(result.bad.eventId, DEBEZIUM_ROW.id);
});

test('a raw value takes a text payload as it is, but not a NULL one; Avro checks it is JSON', () => {
  const text = sent({ ...DEBEZIUM_ROW, payload: 'not json' });
  const raw = mapping({ outboxLayout: 'debezium', valueFormat: 'raw' });
  const decoded = rowToEvent(text.relation, text.values, POSITION, rowDecoder(text.relation, raw));
  assert.ok(decoded.ok);
  assert.equal(decoded.event.payload, 'not json');
  const avro = mapping({ outboxLayout: 'debezium' });
  const checked = rowToEvent(text.relation, text.values, POSITION, rowDecoder(text.relation, avro));
  assert.equal(!checked.ok && checked.bad.reason, 'malformed-payload');
  const nothing = sent({ ...DEBEZIUM_ROW, payload: null });
  const refused = rowToEvent(
    nothing.relation,
    nothing.values,
    POSITION,
    rowDecoder(nothing.relation, raw),
  );
  assert.equal(!refused.ok && refused.bad.reason, 'missing-value');
});

test('dead-letters rows of a relation that lacks a mapped column, naming the column', () => {
  const { relation, values } = sent({ ...DEBEZIUM_ROW, type: undefined } as never);
  const trimmed = { ...relation, columns: relation.columns.filter((c) => c.name !== 'type') };
  const decoder = rowDecoder(trimmed, mapping({ outboxLayout: 'debezium' }));
  assert.equal(decoder.compiled.missing?.setting, 'RELAY_COLUMN_EVENT_TYPE');
  const result = rowToEvent(trimmed, values, POSITION, decoder);
  assert.equal(!result.ok && result.bad.reason, 'missing-column');
});

test('parses RELAY_ADDITIONAL_COLUMNS and says what is wrong with it', () => {
  assert.deepEqual(parseAdditionalColumns('region:header, tenant:header:x-tenant'), [
    { column: 'region', placement: 'header', name: 'region' },
    { column: 'tenant', placement: 'header', name: 'x-tenant' },
  ]);
  assert.deepEqual(parseAdditionalColumns('region:envelope:region_code'), [
    { column: 'region', placement: 'envelope', name: 'region_code' },
  ]);
  assert.match(parseAdditionalColumns('region:envelope:payload') as string, /already has/);
  assert.match(parseAdditionalColumns('region:envelope:x-y') as string, /Avro name/);
  assert.deepEqual(parseAdditionalColumns(''), []);
  assert.match(parseAdditionalColumns('region') as string, /column:header/);
  assert.match(parseAdditionalColumns('region:body') as string, /placement/);
  assert.match(parseAdditionalColumns('a:header:b:c') as string, /column:header/);
});

test('the settings build the mapping; a raw value refuses Avro keys', () => {
  const base = { RELAY_PG_URL: 'postgres://u@h/db', RELAY_KAFKA_BROKERS: 'k:9092' };
  const { config } = loadConfig({
    env: {
      ...base,
      RELAY_OUTBOX_LAYOUT: 'debezium',
      RELAY_COLUMN_CREATED_AT: 'none',
      RELAY_ADDITIONAL_COLUMNS: 'region:header',
      RELAY_VALUE_FORMAT: 'raw',
    },
  });
  const built = outboxMapping(config);
  assert.equal(built.columns.createdAt, null);
  assert.equal(built.valueFormat, 'raw');
  assert.deepEqual(built.additional, [{ column: 'region', placement: 'header', name: 'region' }]);
  assert.throws(
    () => loadConfig({ env: { ...base, RELAY_VALUE_FORMAT: 'raw', RELAY_KEY_FORMAT: 'avro' } }),
    /RELAY_VALUE_FORMAT=raw/,
  );
});
