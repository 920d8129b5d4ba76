import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { avroTypeOptions, TimestampType } from '../../../src/encode/logical-types.ts';

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

describe('timestamp-millis, date and decimal', () => {
  it('writes timestamp-millis as a bigint long and reads it back exactly', () => {
    const type = typeOf({ type: 'long', logicalType: 'timestamp-millis' });
    const millis = 1_795_000_000_123n;
    assert.equal(type.fromBuffer(type.toBuffer(millis)), millis);
    assert.equal(type.isValid(1.5), false);
  });

  it('resolves a timestamp from a long or from the same unit, never from the other unit', () => {
    const millis = typeOf({ type: 'long', logicalType: 'timestamp-millis' });
    const micros = typeOf({ type: 'long', logicalType: 'timestamp-micros' });
    const long = typeOf('long');
    assert.equal(millis.fromBuffer(long.toBuffer(7n), millis.createResolver(long)), 7n);
    assert.equal(micros.fromBuffer(micros.toBuffer(7n), micros.createResolver(micros)), 7n);
    assert.throws(() => millis.createResolver(micros), /cannot read/);
    assert.throws(() => micros.createResolver(millis), /cannot read/);
    assert.deepEqual(
      [millis, micros].map((type) => (type as TimestampType).unit),
      ['millis', 'micros'],
    );
  });

  it('writes a date as its day count, an Avro int', () => {
    const type = typeOf({ type: 'int', logicalType: 'date' });
    assert.equal(
      type.toBuffer(20_414).toString('hex'),
      Buffer.from([0xfc, 0xbe, 0x02]).toString('hex'),
    );
    assert.equal(type.fromBuffer(type.toBuffer(-1)), -1);
    assert.equal(type.isValid(1.5), false);
  });

  it("writes a decimal as the big-endian two's complement of its unscaled value", () => {
    const type = typeOf({ type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 });
    // 12.34 -> 1234 = 0x04d2, length-prefixed bytes: zigzag(2) = 04.
    assert.equal(type.toBuffer('12.34').toString('hex'), '0404d2');
    // -1.00 -> -100 = 0x9c in one byte.
    assert.equal(type.toBuffer('-1').toString('hex'), '029c');
    // 1.28 -> 128 = 0x80 would read as negative, so it takes two bytes: 00 80.
    assert.equal(type.toBuffer('1.28').toString('hex'), '040080');
    for (const text of ['0', '0.5', '-0.01', '99999999.99', '-99999999.99', '12.30']) {
      const back = type.fromBuffer(type.toBuffer(text)) as string;
      assert.equal(Number(back), Number(text));
      assert.equal(back.split('.')[1]?.length, 2);
    }
  });

  it('refuses a decimal that would need rounding or more digits than its precision', () => {
    const type = typeOf({ type: 'bytes', logicalType: 'decimal', precision: 4, scale: 2 });
    assert.equal(type.isValid('12.34'), true);
    assert.equal(type.isValid('1.234'), false);
    assert.equal(type.isValid('123.4'), false);
    assert.equal(type.isValid('1e3'), false);
    assert.equal(type.isValid(12.34), false);
  });

  it('writes a fixed-based decimal in exactly the fixed size, sign-extended', () => {
    const type = typeOf({
      type: 'fixed',
      name: 'Money',
      size: 4,
      logicalType: 'decimal',
      precision: 9,
      scale: 2,
    });
    assert.equal(type.toBuffer('-0.01').toString('hex'), 'ffffffff');
    assert.equal(type.fromBuffer(type.toBuffer('1234567.89')), '1234567.89');
  });

  it('keeps precision and scale in the schema it prints', () => {
    const type = typeOf({ type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 });
    assert.deepEqual(type.schema({ exportAttrs: true }), {
      type: 'bytes',
      logicalType: 'decimal',
      precision: 10,
      scale: 2,
    });
  });

  it('rejects a decimal schema without a usable precision or scale', () => {
    assert.throws(() => typeOf({ type: 'bytes', logicalType: 'decimal' }), /precision/);
    assert.throws(
      () => typeOf({ type: 'bytes', logicalType: 'decimal', precision: 2, scale: 3 }),
      /scale/,
    );
    assert.throws(
      () => typeOf({ type: 'string', logicalType: 'decimal', precision: 2 }),
      /bytes or fixed/,
    );
  });
});
