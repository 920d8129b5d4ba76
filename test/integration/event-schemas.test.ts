/**
 * Per-event-type schemas end to end, and one test per kind of bad row: each bad row goes to the
 * dead-letter topic with its reason, and the good events written before and after it, in the
 * same transaction and in the next, still arrive in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { consumeAll, type ConsumedRecord } from '../support/consume.ts';
import { startRelayInProcess, type InProcessRelay } from '../support/relay.ts';
import { scenario, type Scenario } from '../support/scenario.ts';
import { quoteIdent } from '../../src/db/sql.ts';
import { loadSchemaDirectory } from '../../src/encode/schema-directory.ts';
import { SINGLE_OBJECT_HEADER_LENGTH } from '../../src/encode/single-object.ts';

const SCHEMA_DIR = 'test/fixtures/schemas';
const schemas = loadSchemaDirectory(SCHEMA_DIR);

interface Row {
  id: string;
  aggregateId: string | null;
  eventType: string | null;
  payload: string;
}

/** Over the broker's default message.max.bytes (about 1 MiB), as a valid OrderCancelled. */
const HUGE_REASON = 'x'.repeat(1_200_000);

const BAD_ROWS: Record<string, (aggregateId: string) => Omit<Row, 'id'>> = {
  'schema-mismatch': (aggregateId) => ({
    aggregateId,
    eventType: 'OrderCancelled',
    payload: '{"orderId": 42}',
  }),
  'unknown-event-type': (aggregateId) => ({
    aggregateId,
    eventType: 'NoSchemaForThis',
    payload: '{"orderId": "x"}',
  }),
  'malformed-payload': (aggregateId) => ({
    aggregateId,
    eventType: 'OrderCancelled',
    payload: '{"orderId": ',
  }),
  'missing-aggregate-id': () => ({
    aggregateId: null,
    eventType: 'OrderCancelled',
    payload: '{"orderId": "x"}',
  }),
  'missing-value': (aggregateId) => ({
    aggregateId,
    eventType: null,
    payload: '{"orderId": "x"}',
  }),
  'too-large': (aggregateId) => ({
    aggregateId,
    eventType: 'OrderCancelled',
    payload: JSON.stringify({ orderId: 'x', reason: HUGE_REASON }),
  }),
};

const good = (aggregateId: string, seq: number): Row => ({
  id: randomUUID(),
  aggregateId,
  eventType: 'OrderCancelled',
  payload: JSON.stringify({ orderId: `${aggregateId}:${seq}`, reason: seq === 1 ? 'late' : null }),
});

let s: Scenario;
let relay: InProcessRelay;
const badIds = new Map<string, string>();
let events: { aggregateId: string | null; orderId: string }[] = [];
let letters: ConsumedRecord[] = [];

async function insertTransaction(rows: Row[]): Promise<void> {
  const table = `${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)}`;
  const client = await s.pool.connect();
  try {
    await client.query('BEGIN');
    for (const r of rows) {
      await client.query(
        `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload) VALUES ($1, 'order', $2, $3, $4)`,
        [r.id, r.aggregateId, r.eventType, r.payload],
      );
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

function decodeTyped(record: ConsumedRecord): { aggregateId: string | null; orderId: string } {
  const fingerprint = record.value.readBigUInt64LE(2);
  const schema = [...schemas.values()].find((x) => x.fingerprint === fingerprint);
  assert.ok(schema, `no schema with the fingerprint of the record at offset ${record.offset}`);
  const value = schema.type.fromBuffer(record.value.subarray(SINGLE_OBJECT_HEADER_LENGTH)) as {
    orderId: string;
  };
  return { aggregateId: record.key, orderId: value.orderId };
}

before(async () => {
  s = await scenario('schemas', {
    RELAY_SCHEMA_DIR: SCHEMA_DIR,
    RELAY_EVENTS_WITHOUT_SCHEMA: 'dead-letter',
  });
  const table = `${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)}`;
  // A text payload column (where malformed JSON can exist), and columns a hand-made outbox may
  // leave nullable.
  await s.pool.query(
    `ALTER TABLE ${table} ALTER COLUMN payload TYPE text, ALTER COLUMN aggregate_id DROP NOT NULL, ALTER COLUMN event_type DROP NOT NULL`,
  );
  relay = startRelayInProcess(s.env);
  for (const [reason, makeBad] of Object.entries(BAD_ROWS)) {
    const aggregateId = `agg-${reason}`;
    const bad = { id: randomUUID(), ...makeBad(aggregateId) };
    badIds.set(reason, bad.id);
    await insertTransaction([good(aggregateId, 0), bad, good(aggregateId, 1)]);
    await insertTransaction([good(aggregateId, 2)]);
  }
  const cases = Object.keys(BAD_ROWS).length;
  const records = await consumeAll({
    brokers: s.brokers,
    topics: [s.names.topic('order')],
    atLeast: cases * 3,
  });
  events = records.map(decodeTyped);
  letters = await consumeAll({
    brokers: s.brokers,
    topics: [s.names.deadLetterTopic],
    atLeast: cases,
  });
});

after(async () => {
  await relay?.stop();
  await s?.cleanup();
});

describe('a bad row goes to the dead-letter topic and the good events around it still arrive', () => {
  for (const reason of Object.keys(BAD_ROWS)) {
    test(reason, async () => {
      const aggregateId = `agg-${reason}`;
      assert.deepEqual(
        events.filter((e) => e.aggregateId === aggregateId).map((e) => e.orderId),
        [0, 1, 2].map((seq) => `${aggregateId}:${seq}`),
        'the good events before and after it, in its transaction and the next, in order',
      );
      const id = badIds.get(reason);
      const letter = letters.find((l) => l.headers.event_id === id);
      assert.ok(letter, `a dead letter for event ${id}`);
      assert.equal(letter.headers.dlq_reason, reason);
      assert.ok(letter.headers.dlq_detail, 'the detail says what is wrong');
      assert.match(letter.headers.dlq_commit_lsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
      assert.equal(letter.headers.dlq_intended_topic, s.names.topic('order'));
      const row = JSON.parse(letter.value.toString()) as Record<string, string | null>;
      assert.equal(row.id, id, 'it carries the original row');
      if (reason !== 'too-large') assert.ok('payload' in row && row.payload !== null);
      const text = await relay.metrics.registry.getSingleMetricAsString(
        'outbox_relay_dead_letters_total',
      );
      assert.match(text, new RegExp(`reason="${reason}"\\} 1`));
    });
  }

  test('no other record is dead-lettered', () => {
    assert.equal(letters.length, Object.keys(BAD_ROWS).length);
  });
});
