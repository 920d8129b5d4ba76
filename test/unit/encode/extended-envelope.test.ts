import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCompatibility } from '../../../src/encode/compatibility.ts';
import { createEventEncoder } from '../../../src/encode/encoder.ts';
import { envelopeSchema, extendedEnvelopeSchema } from '../../../src/encode/envelope.ts';
import { sampleEvent } from './sample-event.ts';

const SINGLE_OBJECT_HEADER = 10;

test('appends optional string fields to the envelope, compatible with the plain one both ways', () => {
  const plain = envelopeSchema().type;
  const extended = extendedEnvelopeSchema(['region_code', 'tenant']).type;
  assert.notEqual(
    extendedEnvelopeSchema(['region_code']).fingerprint,
    envelopeSchema().fingerprint,
  );
  for (const level of ['BACKWARD', 'FORWARD', 'FULL'] as const)
    assert.deepEqual(checkCompatibility(extended, [plain], level), [], level);
});

test('writes the additional columns into the envelope, null for SQL NULL; no fields: the plain envelope', () => {
  const event = { ...sampleEvent(), envelopeFields: { region_code: 'eu', tenant: null } };
  const encoder = createEventEncoder({ envelopeFields: ['region_code', 'tenant'] });
  const bytes = encoder.encodeValue(event) as unknown as Buffer;
  const extended = extendedEnvelopeSchema(['region_code', 'tenant']);
  assert.equal(bytes.readBigUInt64LE(2), extended.fingerprint);
  const decoded = extended.type.fromBuffer(bytes.subarray(SINGLE_OBJECT_HEADER)) as Record<
    string,
    unknown
  >;
  assert.equal(decoded.region_code, 'eu');
  assert.equal(decoded.tenant, null);
  assert.equal(decoded.event_id, event.id);
  const plain = createEventEncoder().encodeValue(event) as unknown as Buffer;
  assert.equal(plain.readBigUInt64LE(2), envelopeSchema().fingerprint);
});
