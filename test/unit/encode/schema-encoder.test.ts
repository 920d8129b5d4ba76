import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventEncoder, EncodeFailure } from '../../../src/encode/encoder.ts';
import { decodeEnvelope } from '../../../src/encode/decoder.ts';
import { loadSchemaDirectory } from '../../../src/encode/schema-directory.ts';
import { SINGLE_OBJECT_HEADER_LENGTH } from '../../../src/encode/single-object.ts';
import { RelayError } from '../../../src/domain/errors.ts';
import { sampleEvent } from './sample-event.ts';

const SCHEMA_DIR = 'test/fixtures/schemas';
const schemas = loadSchemaDirectory(SCHEMA_DIR);

const ORDER_PLACED = JSON.stringify({
  orderId: '018f4f8e-7b1c-7cc3-9a5e-2b7d0c1e9f00',
  customer: 'Zoë',
  total: 1234.5,
  placedAt: '2026-11-22T10:00:00.123Z',
  placedAtMicros: '2026-11-22T10:00:00.123456Z',
  deliveryDate: '2026-11-30',
  quantity: 3,
  sequence: 0,
  weight: 1.25,
  note: 'ring twice',
  status: 'PAID',
  lines: [{ sku: 'A-1', count: 2 }],
  // Written as text: a JS number literal would already be rounded to 2^53.
}).replace('"sequence":0', '"sequence":9007199254740993');

function failure(fn: () => unknown, reason: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof EncodeFailure);
    assert.equal(error.reason, reason);
    assert.match(error.message, message);
    return true;
  });
}

describe('event schemas', () => {
  it('maps each <event type>.avsc to its event type', () => {
    assert.deepEqual([...schemas.keys()], ['OrderCancelled', 'OrderPlaced']);
    assert.equal(schemas.get('OrderPlaced')?.fullName, 'com.example.orders.OrderPlaced');
  });

  it('encodes a payload with its type schema in single-object encoding', () => {
    const encoder = createEventEncoder({ schemas });
    const schema = schemas.get('OrderPlaced');
    assert.ok(schema);
    const value = encoder.encodeValue(
      sampleEvent({ eventType: 'OrderPlaced', payload: ORDER_PLACED }),
    );
    assert.equal(value.readBigUInt64LE(2), schema.fingerprint);
    const decoded = schema.type.fromBuffer(value.subarray(SINGLE_OBJECT_HEADER_LENGTH)) as Record<
      string,
      unknown
    >;
    assert.equal(decoded.total, '1234.50');
    assert.equal(decoded.placedAt, 1_795_341_600_123n);
    assert.equal(decoded.sequence, 9_007_199_254_740_993n);
    assert.deepEqual({ ...(decoded.note as object) }, { string: 'ring twice' });
    assert.equal(decoded.express, false);
    assert.deepEqual({ ...(decoded.attributes as object) }, {});
  });

  it('publishes events without a schema in the envelope, or refuses them when told to', () => {
    const event = sampleEvent({ eventType: 'SomethingElse' });
    assert.equal(
      decodeEnvelope(createEventEncoder({ schemas }).encodeValue(event)).event_id,
      event.id,
    );
    const strict = createEventEncoder({ schemas, withoutSchema: 'dead-letter' });
    failure(
      () => strict.encodeValue(event),
      'unknown-event-type',
      /no schema for event type "SomethingElse"/,
    );
  });

  it('refuses a payload that does not match, naming the field', () => {
    const encoder = createEventEncoder({ schemas });
    const payload = JSON.stringify({ ...JSON.parse(ORDER_PLACED), quantity: 'three' });
    failure(
      () => encoder.encodeValue(sampleEvent({ eventType: 'OrderPlaced', payload })),
      'schema-mismatch',
      /OrderPlaced\.avsc: \$\.quantity: expected a whole number/,
    );
  });

  it('refuses a payload that is not JSON', () => {
    const encoder = createEventEncoder({ schemas });
    failure(
      () =>
        encoder.encodeValue(sampleEvent({ eventType: 'OrderCancelled', payload: '{"orderId":' })),
      'malformed-payload',
      /the payload is not JSON/,
    );
  });

  it('stops at start on a schema file that does not parse, naming the file and the setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-schemas-'));
    writeFileSync(
      join(dir, 'Bad.avsc'),
      '{"type": "record", "name": "Bad", "fields": [{"name": "x", "type": "nope"}]}',
    );
    assert.throws(
      () => loadSchemaDirectory(dir),
      (error: unknown) => {
        assert.ok(error instanceof RelayError);
        assert.equal(error.code, 'CONFIG_INVALID');
        assert.match(error.message, /RELAY_SCHEMA_DIR: .*Bad\.avsc is not a usable Avro schema/);
        return true;
      },
    );
    writeFileSync(join(dir, 'Bad.avsc'), '"string"');
    assert.throws(() => loadSchemaDirectory(dir), /must be a named record/);
  });
});
