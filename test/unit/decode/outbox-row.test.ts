import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BadRowReason } from '../../../src/domain/bad-row-reason.ts';
import type { EventPosition } from '../../../src/domain/event.ts';
import { lsnFromBigInt } from '../../../src/domain/lsn.ts';
import { OUTBOX_COLUMNS } from '../../../src/domain/outbox-columns.ts';
import {
  foreignRow,
  OPTIONAL_OUTBOX_COLUMNS,
  parseTimestamptz,
  rowToEvent,
} from '../../../src/decode/outbox-row.ts';
import { UNCHANGED_TOAST, type Relation, type TupleValue } from '../../../src/decode/pgoutput.ts';

const POSITION: EventPosition = { commitLsn: lsnFromBigInt(0x1_0000_abcdn), txSeq: 3, index: 1 };

const GOOD_ROW: Record<string, string | null> = {
  id: '0b7e3c1a-5f0e-4c55-9f8e-2a1d3c4b5e6f',
  aggregate_type: 'order',
  aggregate_id: 'order-42',
  event_type: 'OrderPlaced',
  payload: '{"total": 12345678901234567890}',
  headers: '{"traceparent": "00-abc-def-01"}',
  created_at: '2026-11-22 03:00:05.123456+00',
};

/** The relation and values pgoutput would send for `row`, columns in the row's key order. */
function sent(row: Record<string, string | null>): [Relation, TupleValue[]] {
  const names = Object.keys(row);
  const relation: Relation = {
    oid: 16_385,
    schema: 'public',
    name: 'outbox',
    columns: names.map((name) => ({ name, typeOid: 25 })),
  };
  return [relation, names.map((name) => row[name] ?? null)];
}

function convert(row: Record<string, string | null>) {
  return rowToEvent(...sent(row), POSITION);
}

function assertBad(row: Record<string, string | null>, reason: BadRowReason, detail: RegExp) {
  const result = convert(row);
  assert.equal(result.ok, false, `expected ${reason}`);
  if (result.ok) return;
  assert.equal(result.bad.reason, reason);
  assert.match(result.bad.detail, detail);
  assert.deepEqual(result.bad.row, row, 'the original row is kept for the dead letter');
  assert.equal(result.bad.eventId, row.id ?? null);
  assert.equal(result.bad.position, POSITION);
}

test('turns a good outbox row into an event, keeping payload text and microseconds exact', () => {
  assert.deepEqual(convert(GOOD_ROW), {
    ok: true,
    event: {
      id: GOOD_ROW.id,
      aggregateType: 'order',
      aggregateId: 'order-42',
      eventType: 'OrderPlaced',
      payload: '{"total": 12345678901234567890}',
      headers: { traceparent: '00-abc-def-01' },
      createdAtMicros: 1_795_316_405_123_456n,
      position: POSITION,
    },
  });
});

test('does not depend on the order of the columns in the relation', () => {
  const reversed = Object.fromEntries(Object.entries(GOOD_ROW).reverse());
  assert.deepEqual(convert(reversed), convert(GOOD_ROW));
});

test('ignores extra columns the outbox table may have grown', () => {
  const result = convert({ ...GOOD_ROW, tenant: 'acme' });
  assert.equal(result.ok, true);
});

test('treats SQL NULL headers, JSON null headers and a NULL payload as empty', () => {
  for (const headers of [null, 'null', '{}']) {
    const result = convert({ ...GOOD_ROW, headers, payload: null });
    assert.ok(result.ok, String(headers));
    assert.deepEqual(result.event.headers, {});
    assert.equal(result.event.payload, 'null');
  }
});

test('keeps header values that are not strings as their JSON text', () => {
  const headers = '{"s": "text", "n": 42, "f": 1.5, "b": true, "z": null, "o": {"a": [1, "x"]}}';
  const result = convert({ ...GOOD_ROW, headers });
  assert.ok(result.ok);
  assert.deepEqual(result.event.headers, {
    s: 'text',
    n: '42',
    f: '1.5',
    b: 'true',
    z: 'null',
    o: '{"a":[1,"x"]}',
  });
});

test('dead-letters a row that lacks a required outbox column, naming the column', () => {
  for (const column of OUTBOX_COLUMNS.filter((c) => !OPTIONAL_OUTBOX_COLUMNS.has(c))) {
    const row = { ...GOOD_ROW };
    delete row[column];
    assertBad(row, 'missing-column', new RegExp(`no column "${column}"`));
  }
});

test('dead-letters a row whose aggregate id is NULL or empty: the event would have no key', () => {
  assertBad({ ...GOOD_ROW, aggregate_id: null }, 'missing-aggregate-id', /aggregate_id/);
  assertBad({ ...GOOD_ROW, aggregate_id: '' }, 'missing-aggregate-id', /aggregate_id/);
});

test('dead-letters a row whose id, aggregate type, event type or created_at is NULL', () => {
  for (const column of ['id', 'aggregate_type', 'event_type', 'created_at']) {
    assertBad({ ...GOOD_ROW, [column]: null }, 'missing-value', new RegExp(`"${column}"`));
  }
  assertBad({ ...GOOD_ROW, event_type: '' }, 'missing-value', /"event_type"/);
});

test('dead-letters a row whose headers are not JSON', () => {
  assertBad({ ...GOOD_ROW, headers: '{"a": ' }, 'malformed-headers', /headers is not JSON/);
});

test('dead-letters a row whose headers are JSON but not an object', () => {
  for (const headers of ['[1, 2]', '"text"', '42', 'true']) {
    assertBad({ ...GOOD_ROW, headers }, 'malformed-headers', /must be a JSON object/);
  }
});

test('dead-letters a row whose created_at is not a timestamp, quoting it', () => {
  for (const createdAt of ['infinity', 'yesterday', '294276-01-01 00:00:00+00']) {
    assertBad({ ...GOOD_ROW, created_at: createdAt }, 'malformed-timestamp', /is not a timestamp/);
    const result = convert({ ...GOOD_ROW, created_at: createdAt });
    assert.ok(!result.ok && result.bad.detail.includes(`"${createdAt}"`), createdAt);
  }
});

test('reads an unchanged TOAST marker as NULL rather than as a value', () => {
  const [relation, values] = sent(GOOD_ROW);
  values[OUTBOX_COLUMNS.indexOf('aggregate_id')] = UNCHANGED_TOAST;
  const result = rowToEvent(relation, values, POSITION);
  assert.equal(!result.ok && result.bad.reason, 'missing-aggregate-id');
});

test('parses timestamptz text to Unix microseconds, exact to the microsecond', () => {
  const cases: [string, bigint][] = [
    ['2026-11-22 03:00:05.123456+00', 1_795_316_405_123_456n],
    ['2026-11-22 03:00:05+00', 1_795_316_405_000_000n],
    ['2026-11-22 03:00:05.5+00', 1_795_316_405_500_000n],
    ['2026-11-22 08:30:05.000001+05:30', 1_795_316_405_000_001n],
    ['2026-11-21 19:00:05.123456-08', 1_795_316_405_123_456n],
    ['2026-11-21 19:00:05-08', 1_795_316_405_000_000n],
    ['2026-11-22T03:00:05.123456+00:00', 1_795_316_405_123_456n],
    ['2000-01-01 00:00:00+00', 946_684_800_000_000n],
    ['1970-01-01 00:00:00+00', 0n],
    ['1969-12-31 23:59:59.999999+00', -1n],
    // Local mean time before time zones: Postgres prints offsets with seconds.
    ['1850-01-01 00:00:00+00:53:28', -3_786_828_808_000_000n],
  ];
  for (const [text, micros] of cases) assert.equal(parseTimestamptz(text), micros, text);
});

test('parses years before 100 as themselves, not as 19xx', () => {
  assert.equal(parseTimestamptz('0050-06-01 00:00:00+00'), -60_576_249_600_000_000n);
});

test('rejects infinity, BC dates, missing offsets and dates outside what it can represent', () => {
  for (const text of [
    'infinity',
    '-infinity',
    '0044-03-15 12:00:00+00 BC',
    '2026-11-22 03:00:05',
    '2026-11-22 03:00:05.1234567+00',
    '294276-12-31 23:59:59.999999+00',
    '',
  ]) {
    assert.equal(parseTimestamptz(text), null, text);
  }
});

test('keeps header numbers beyond 2^53 exactly as written, also inside objects', () => {
  const result = convert({
    ...GOOD_ROW,
    headers: '{"big": 12345678901234567890, "nested": {"n": [1.50, 98765432109876543210]}}',
  });
  assert.ok(result.ok);
  assert.equal(result.event.headers.big, '12345678901234567890');
  assert.equal(result.event.headers.nested, '{"n":[1.50,98765432109876543210]}');
});

test('reads a row without a headers column (dropped: it is optional) as an event without headers', () => {
  const row = { ...GOOD_ROW };
  delete row.headers;
  const result = convert(row);
  assert.ok(result.ok);
  assert.deepEqual(result.event.headers, {});
});

/** The relation with created_at of the given type (1114 timestamp, 1184 timestamptz). */
function withCreatedAtType(row: Record<string, string | null>, typeOid: number) {
  const [relation, values] = sent(row);
  const columns = relation.columns.map((c) => (c.name === 'created_at' ? { ...c, typeOid } : c));
  return rowToEvent({ ...relation, columns }, values, POSITION);
}

test('reads created_at of type timestamp (without time zone) as UTC', () => {
  const result = withCreatedAtType({ ...GOOD_ROW, created_at: '2026-11-22 03:00:05.123456' }, 1114);
  assert.ok(result.ok);
  assert.equal(result.event.createdAtMicros, 1_795_316_405_123_456n);
});

test('still insists on an offset in created_at of type timestamptz', () => {
  const result = withCreatedAtType({ ...GOOD_ROW, created_at: '2026-11-22 03:00:05' }, 1184);
  assert.equal(result.ok, false);
  if (!result.ok) assert.equal(result.bad.reason, 'malformed-timestamp');
});

test('makes a dead letter of a row of another table, naming that table and the outbox', () => {
  const relation: Relation = {
    oid: 16_400,
    schema: 'shop',
    name: 'orders',
    columns: [
      { name: 'id', typeOid: 23 },
      { name: 'total', typeOid: 1700 },
    ],
  };
  const bad = foreignRow(relation, ['7', '12.50'], POSITION, 'public.outbox');
  assert.equal(bad.reason, 'foreign-table');
  assert.match(bad.detail, /shop\.orders/);
  assert.match(bad.detail, /public\.outbox/);
  assert.deepEqual(bad.row, { id: '7', total: '12.50' });
  assert.equal(bad.eventId, null);
  assert.equal(bad.position, POSITION);
});
