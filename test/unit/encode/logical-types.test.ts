import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { avroTypeOptions } from '../../../src/encode/logical-types.ts';

function typeOf(schema: unknown): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, avroTypeOptions());
}

describe('logical types', () => {
  it('writes timestamp-micros as the zigzag varint long the spec defines', () => {
    const type = typeOf({ type: 'long', logicalType: 'timestamp-micros' });
    // zigzag(2^53 + 1) = 2^54 + 2, in 7-bit groups, least significant first.
    assert.equal(type.toBuffer(2n ** 53n + 1n).toString('hex'), '8280808080808020');
    assert.equal(type.toBuffer(-1n).toString('hex'), '01');
  });

  it('reads every long as a bigint, whether spelled "long", {"type":"long"} or nested', () => {
    const type = typeOf({
      type: 'record',
      name: 'Longs',
      fields: [
        { name: 'a', type: 'long' },
        { name: 'b', type: { type: 'long' } },
        { name: 'c', type: { type: 'array', items: 'long' } },
        { name: 'd', type: { type: 'long', logicalType: 'not-one-we-know' } },
      ],
    });
    const value = { a: 2n ** 60n, b: -3n, c: [1n, 2n ** 62n], d: 5n };
    assert.deepEqual({ ...(type.fromBuffer(type.toBuffer(value)) as object) }, value);
  });

  it('refuses a long outside the signed 64-bit range', () => {
    const type = typeOf({ type: 'long', logicalType: 'timestamp-micros' });
    assert.equal(type.isValid(2n ** 63n), false);
    assert.equal(type.isValid(-(2n ** 63n)), true);
  });

  it('accepts UUIDs of any version and case and refuses other strings', () => {
    const type = typeOf({ type: 'string', logicalType: 'uuid' });
    assert.equal(type.isValid('018f4f8e-7b1c-7cc3-9a5e-2b7d0c1e9f00'), true);
    assert.equal(type.isValid('5F0C3B8E-1A2B-4C3D-8E9F-0A1B2C3D4E5F'), true);
    assert.equal(type.isValid('5f0c3b8e1a2b4c3d8e9f0a1b2c3d4e5f'), false);
    assert.equal(type.isValid(''), false);
  });

  it('fails loudly when a schema puts a logical type on the wrong underlying type', () => {
    assert.throws(() => typeOf({ type: 'int', logicalType: 'uuid' }), /needs an underlying string/);
    assert.throws(
      () => typeOf({ type: 'string', logicalType: 'timestamp-micros' }),
      /needs an underlying long/,
    );
  });
});
