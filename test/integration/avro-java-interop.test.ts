/**
 * Apache Avro's Java library, the reference implementation, reads what the relay writes as the
 * same values our own decoder reads. Needs a JDK and, the first time only, Maven Central.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import avro from 'avsc';
import type { OutboxEvent } from '../../src/domain/event.ts';
import { toEnvelopeRecord } from '../../src/encode/envelope.ts';
import {
  createEnvelopeEncoder,
  decodeEnvelope,
  ENVELOPE_SCHEMA_PATH,
  type DecodedEnvelope,
} from '../../src/encode/index.ts';
import { avroTypeOptions, logicalTypes } from '../../src/encode/logical-types.ts';
import { packageRoot } from '../../src/encode/schema-file.ts';
import { createSingleObjectWriter } from '../../src/encode/single-object.ts';
import { createEventEncoder } from '../../src/encode/encoder.ts';
import { registryWireFormat } from '../../src/encode/registry-wire-format.ts';
import { loadSchemaDirectory } from '../../src/encode/schema-directory.ts';
import {
  AVRO_JAVA_VERSION,
  avroJavaClasspath,
  decodeWithAvroJava,
  javaInstantText,
  javaLocalDateText,
  parseAvroJavaJson,
  type AvroJavaCase,
} from '../support/avro-java.ts';
import { sampleEvent } from '../unit/encode/sample-event.ts';

const MILLIS = 1000n;
const MICROS = 1_000_000n;
const MIN_LONG = -(2n ** 63n);
const MAX_LONG = 2n ** 63n - 1n;
const ENVELOPE_SCHEMA_TEXT = readFileSync(join(packageRoot(), ENVELOPE_SCHEMA_PATH), 'utf8');

/** The characters GenericData.toString escapes, and some that need more than one UTF-16 unit. */
const HARD_TEXT = 'é中😀 "q" \\ / \n\t\r\b\f \u0001 \u007f \u0085 \u00a0 \u2028 \u20ac \ufeff 𝄞';

const EVENTS: ReadonlyArray<readonly [name: string, event: OutboxEvent]> = [
  ['the sample event', sampleEvent()],
  ['created_at at the epoch', sampleEvent({ createdAtMicros: 0n })],
  ['created_at one microsecond before 1970', sampleEvent({ createdAtMicros: -1n })],
  ['created_at on a whole millisecond', sampleEvent({ createdAtMicros: 1_700_000_000_123_000n })],
  ['created_at on a whole second', sampleEvent({ createdAtMicros: 1_700_000_000_000_000n })],
  ['created_at at 0000-01-01', sampleEvent({ createdAtMicros: -62_167_219_200_000_000n })],
  ['created_at just before year 0', sampleEvent({ createdAtMicros: -62_167_219_200_000_001n })],
  ['created_at at the smallest long', sampleEvent({ createdAtMicros: MIN_LONG })],
  ['created_at in the year 10000', sampleEvent({ createdAtMicros: 253_402_300_800_000_000n })],
  ['created_at at the largest long', sampleEvent({ createdAtMicros: MAX_LONG })],
  [
    'non-ASCII, emoji and escaped characters in every string field',
    sampleEvent({
      aggregateType: `commande-${HARD_TEXT}`,
      aggregateId: `🧾-${HARD_TEXT}`,
      eventType: `Bestellung✓${HARD_TEXT}`,
      payload: JSON.stringify({ note: HARD_TEXT, emoji: '👩‍👩‍👧‍👦🇪🇺' }),
      headers: { [`clé-${HARD_TEXT}`]: `valeur-${HARD_TEXT}`, '': 'empty key' },
    }),
  ],
  [
    'a payload of about 1 MiB',
    sampleEvent({ payload: JSON.stringify({ text: 'Zoë 😀 '.repeat(100_000) }) }),
  ],
  ['no headers', sampleEvent({ headers: {} })],
  [
    'a thousand headers',
    sampleEvent({
      headers: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`h${i}`, `v-${i}-é`])),
    }),
  ],
  ['an upper-case event id', sampleEvent({ id: '5F0C3B8E-1A2B-4C3D-8E9F-0A1B2C3D4E5F' })],
];

/**
 * An envelope as Java's rendering shows it: created_at as an Instant, the event id as a UUID,
 * whose toString is lower-case whatever case the writer used (the bytes keep the writer's).
 */
function asJavaShowsIt(envelope: DecodedEnvelope): Record<string, unknown> {
  return {
    ...envelope,
    event_id: envelope.event_id.toLowerCase(),
    created_at: javaInstantText(envelope.created_at, MICROS),
    headers: { ...envelope.headers },
  };
}

describe(`Apache Avro Java ${AVRO_JAVA_VERSION} reads the envelopes the relay writes`, () => {
  const encoder = createEnvelopeEncoder();
  const messages = EVENTS.map(([, event]) => encoder.encodeValue(event));
  let rendered: string[] = [];
  let timing = '';

  before(async () => {
    const t0 = performance.now();
    await avroJavaClasspath();
    const t1 = performance.now();
    const cases = messages.map((bytes) => ({
      schema: ENVELOPE_SCHEMA_TEXT,
      bytes,
      format: 'single-object' as const,
    }));
    rendered = await decodeWithAvroJava(cases);
    const seconds = (from: number, to: number) => `${((to - from) / 1000).toFixed(2)} s`;
    timing = `jars and javac ${seconds(t0, t1)}, one JVM for ${cases.length} messages ${seconds(t1, performance.now())}`;
  });

  it('decodes every message in one JVM', (t) => {
    t.diagnostic(timing);
    assert.equal(rendered.length, EVENTS.length);
  });

  EVENTS.forEach(([name, event], i) => {
    it(`finds the same field values as our decoder: ${name}`, () => {
      const ours = decodeEnvelope(messages[i] as Buffer);
      assert.deepEqual({ ...ours, headers: { ...ours.headers } }, toEnvelopeRecord(event));
      assert.deepEqual(parseAvroJavaJson(rendered[i] ?? ''), asJavaShowsIt(ours));
    });
  });

  it('shows created_at as the instants Java computes itself', () => {
    const createdAt = (i: number) =>
      (parseAvroJavaJson(rendered[i] ?? '') as DecodedEnvelope).created_at;
    // Checked by hand against Instant.toString: the expected texts above come from our own code.
    assert.equal(createdAt(2), '1969-12-31T23:59:59.999999Z');
    assert.equal(createdAt(6), '-0001-12-31T23:59:59.999999Z');
    assert.equal(createdAt(7), '-290308-12-21T19:59:05.224192Z');
    assert.equal(createdAt(9), '+294247-01-10T04:00:54.775807Z');
  });

  it('refuses a message with another schema fingerprint or with a byte too many', async () => {
    const message = messages[0] as Buffer;
    const otherFingerprint = Buffer.from(message);
    otherFingerprint.writeBigUInt64LE(0x1122334455667788n, 2);
    const trailingByte = Buffer.concat([message, Buffer.from([0])]);
    const cases = [otherFingerprint, trailingByte].map((bytes) => ({
      schema: ENVELOPE_SCHEMA_TEXT,
      bytes,
      format: 'single-object' as const,
    }));
    await assert.rejects(decodeWithAvroJava(cases), (error: Error) => {
      assert.match(error.message, /case 0 .*fingerprint 0x1122334455667788 .*0xe7216d86dcf1624d/);
      assert.match(error.message, /case 1 .*1 trailing bytes after the datum/);
      return true;
    });
  });
});

/** One field of each logical type Avro Java converts; decimal as bytes, precision 10, scale 2. */
const LOGICAL_TYPES_SCHEMA = {
  type: 'record',
  name: 'LogicalTypes',
  namespace: 'io.outboxrelay.test',
  fields: [
    { name: 'millis', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'micros', type: { type: 'long', logicalType: 'timestamp-micros' } },
    { name: 'day', type: { type: 'int', logicalType: 'date' } },
    { name: 'id', type: { type: 'string', logicalType: 'uuid' } },
    { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 } },
  ],
};

/** As the relay holds them: longs as bigint, a date as days, a decimal as its exact text. */
interface LogicalTypesRecord {
  millis: bigint;
  micros: bigint;
  day: number;
  id: string;
  amount: string;
}

const LOGICAL_TYPE_RECORDS: readonly LogicalTypesRecord[] = [
  { millis: 0n, micros: 0n, day: 0, id: '5f0c3b8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f', amount: '0.00' },
  {
    millis: -1n,
    micros: -1n,
    day: -1,
    id: '018f4f8e-7b1c-7cc3-9a5e-2b7d0c1e9f00',
    amount: '-0.01',
  },
  {
    millis: 1_700_000_000_123n,
    micros: 1_700_000_000_123_456n,
    day: 19_675,
    id: '5F0C3B8E-1A2B-4C3D-8E9F-0A1B2C3D4E5F',
    amount: '12.30',
  },
  {
    millis: MAX_LONG,
    micros: MAX_LONG,
    day: 2 ** 31 - 1,
    id: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
    amount: '99999999.99',
  },
  {
    millis: MIN_LONG,
    micros: MIN_LONG,
    day: -(2 ** 31),
    id: '00000000-0000-0000-0000-000000000000',
    amount: '-99999999.99',
  },
];

/** What Java's rendering shows for a record: every logical value as its Java type's toString. */
function logicalTypesAsJavaShowsThem(record: LogicalTypesRecord): Record<string, string> {
  return {
    millis: javaInstantText(record.millis, MILLIS),
    micros: javaInstantText(record.micros, MICROS),
    day: javaLocalDateText(BigInt(record.day)),
    id: record.id.toLowerCase(),
    amount: record.amount,
  };
}

/** Every record encoded by `type` (the avsc type of LOGICAL_TYPES_SCHEMA), in each framing. */
function logicalTypeCases(type: avro.Type): AvroJavaCase[] {
  const schema = JSON.stringify(type.schema({ exportAttrs: true }));
  const writeSingleObject = createSingleObjectWriter(type);
  const schemaId = Buffer.from([0, 0, 0, 0, 42]);
  return LOGICAL_TYPE_RECORDS.flatMap((record) => [
    { schema, format: 'single-object', bytes: writeSingleObject(record) },
    { schema, format: 'confluent', bytes: Buffer.concat([schemaId, type.toBuffer(record)]) },
    { schema, format: 'raw', bytes: type.toBuffer(record) },
  ]);
}

const missingLogicalTypes = LOGICAL_TYPES_SCHEMA.fields
  .map((field) => field.type.logicalType)
  .filter((name) => !Object.hasOwn(logicalTypes, name));

describe(`Apache Avro Java ${AVRO_JAVA_VERSION} reads the logical types the relay writes`, () => {
  const skip =
    missingLogicalTypes.length > 0 &&
    `waits for the ${missingLogicalTypes.join(', ')} logical types in src/encode/logical-types.ts`;

  it('as the same instants, dates, UUIDs and decimals, in every framing', { skip }, async () => {
    const type = avro.Type.forSchema(LOGICAL_TYPES_SCHEMA as avro.Schema, avroTypeOptions());
    const rendered = await decodeWithAvroJava(logicalTypeCases(type));
    const expected = LOGICAL_TYPE_RECORDS.flatMap((record) =>
      Array<Record<string, string>>(3).fill(logicalTypesAsJavaShowsThem(record)),
    );
    assert.deepEqual(rendered.map(parseAvroJavaJson), expected);
  });
});

describe(`Apache Avro Java ${AVRO_JAVA_VERSION} reads typed events encoded from JSON payloads`, () => {
  const schemas = loadSchemaDirectory('test/fixtures/schemas');
  const payload = JSON.stringify({
    orderId: '018f4f8e-7b1c-7cc3-9a5e-2b7d0c1e9f00',
    customer: HARD_TEXT,
    total: 1234.5,
    placedAt: '2026-11-22T11:00:00.123+01:00',
    placedAtMicros: '1969-12-31T23:59:59.999999Z',
    deliveryDate: '2026-11-30',
    quantity: -3,
    sequence: 0,
    weight: 1.25,
    note: 'ring twice',
    status: 'PAID',
    lines: [{ sku: 'A-1', count: 2 }],
    attributes: { gift: 'yes' },
  }).replace('"sequence":0', '"sequence":9007199254740993');
  const expected = {
    orderId: '018f4f8e-7b1c-7cc3-9a5e-2b7d0c1e9f00',
    customer: HARD_TEXT,
    total: '1234.50',
    placedAt: '2026-11-22T10:00:00.123Z',
    placedAtMicros: '1969-12-31T23:59:59.999999Z',
    deliveryDate: '2026-11-30',
    quantity: '-3',
    sequence: '9007199254740993',
    weight: '1.25',
    express: false,
    note: 'ring twice',
    status: 'PAID',
    lines: [{ sku: 'A-1', count: '2' }],
    attributes: { gift: 'yes' },
  };

  it('in single-object encoding and in the Confluent wire format', async () => {
    const schema = schemas.get('OrderPlaced');
    assert.ok(schema);
    const event = sampleEvent({ eventType: 'OrderPlaced', payload });
    const singleObject = createEventEncoder({ schemas }).encodeValue(event, 'orders');
    const registry = { register: () => Promise.resolve(7), lookup: () => Promise.resolve(7) };
    const confluent = createEventEncoder({
      schemas,
      wireFormat: registryWireFormat({ registry, strategy: 'topic-record', autoRegister: true }),
    });
    const framed = confluent.encodeValue(event, 'orders');
    await confluent.ready?.();
    const rendered = await decodeWithAvroJava([
      { schema: schema.text, bytes: singleObject, format: 'single-object' },
      { schema: schema.text, bytes: framed, format: 'confluent' },
    ]);
    assert.deepEqual(rendered.map(parseAvroJavaJson), [expected, expected]);
  });
});
