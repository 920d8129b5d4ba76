import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import {
  jsonToAvro,
  MAX_PAYLOAD_DEPTH,
  parseJsonExact,
  PayloadMismatch,
} from '../../../src/encode/json-to-avro.ts';
import { eventSchemaOptions } from '../../../src/encode/schema-directory.ts';

function typeOf(schema: unknown): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, eventSchemaOptions());
}

function convert(schema: unknown, json: string): unknown {
  return jsonToAvro(typeOf(schema), parseJsonExact(json));
}

function mismatch(schema: unknown, json: string, path: string, problem: RegExp): void {
  assert.throws(
    () => convert(schema, json),
    (error: unknown) =>
      error instanceof PayloadMismatch && error.path === path && problem.test(error.message),
  );
}

const TS_MILLIS = { type: 'long', logicalType: 'timestamp-millis' };
const TS_MICROS = { type: 'long', logicalType: 'timestamp-micros' };
const DECIMAL = { type: 'bytes', logicalType: 'decimal', precision: 6, scale: 2 };

describe('JSON payloads to Avro values', () => {
  it('keeps every digit of a long beyond 2^53', () => {
    assert.equal(convert('long', '9007199254740993'), 9_007_199_254_740_993n);
    assert.equal(convert('long', '"-9223372036854775808"'), -(2n ** 63n));
    mismatch('long', '9223372036854775808', '$', /does not fit a 64-bit long/);
    mismatch('long', '1.5', '$', /expected a whole number/);
  });

  it('reads timestamps as epoch numbers or ISO-8601 text with an offset', () => {
    assert.equal(convert(TS_MILLIS, '"2026-11-22T10:00:00.123Z"'), 1_795_341_600_123n);
    assert.equal(convert(TS_MILLIS, '"2026-11-22T11:00:00.123+01:00"'), 1_795_341_600_123n);
    assert.equal(convert(TS_MICROS, '"2026-11-22T10:00:00.123456Z"'), 1_795_341_600_123_456n);
    assert.equal(convert(TS_MICROS, '"1969-12-31T23:59:59.999999Z"'), -1n);
    assert.equal(convert(TS_MILLIS, '1795341600123'), 1_795_341_600_123n);
    mismatch(TS_MILLIS, '"2026-11-22T10:00:00.1234Z"', '$', /more precision than milliseconds/);
    mismatch(TS_MILLIS, '"2026-11-22T10:00:00"', '$', /ISO-8601 timestamp with an offset/);
    mismatch(TS_MILLIS, '"2026-02-30T10:00:00Z"', '$', /ISO-8601/);
  });

  it('reads a date as YYYY-MM-DD or a day count', () => {
    const date = { type: 'int', logicalType: 'date' };
    assert.equal(convert(date, '"1970-01-02"'), 1);
    assert.equal(convert(date, '"1969-12-31"'), -1);
    assert.equal(convert(date, '20414'), 20_414);
    mismatch(date, '"2026-13-01"', '$', /YYYY-MM-DD/);
  });

  it('reads a decimal from a JSON number or text without rounding it', () => {
    assert.equal(convert(DECIMAL, '1234.5'), '1234.5');
    assert.equal(convert(DECIMAL, '"-0.01"'), '-0.01');
    mismatch(DECIMAL, '1.005', '$', /at most 2 fraction digits/);
    mismatch(DECIMAL, '12345.67', '$', /6 digits in all/);
    mismatch(DECIMAL, '1e2', '$', /decimal/);
  });

  it('reads numbers as written whether or not they print back the same from a double', () => {
    const schema = {
      type: 'record',
      name: 'N',
      fields: [
        { name: 'count', type: 'int' },
        { name: 'price', type: DECIMAL },
        { name: 'big', type: 'long' },
        { name: 'ratio', type: 'double' },
        { name: 'note', type: 'string' },
      ],
    };
    // Every number prints back as written: the fast path.
    const plain = '{"count": 3, "price": 19.9, "big": -42, "ratio": 0.1, "note": "x\\"1.0"}';
    assert.deepEqual(convert(schema, plain), {
      count: 3,
      price: '19.9',
      big: -42n,
      ratio: 0.1,
      note: 'x"1.0',
    });
    // One number that does not (19.90) sends the whole text through the exact reader.
    const exact =
      '{"count": 3, "price": 19.90, "big": 9007199254740993, "ratio": 1e-7, "note": ""}';
    assert.deepEqual(convert(schema, exact), {
      count: 3,
      price: '19.90',
      big: 9_007_199_254_740_993n,
      ratio: 1e-7,
      note: '',
    });
    mismatch(schema, plain.replace('"count": 3', '"count": 3.0'), '$.count', /whole number/);
    mismatch(schema, plain.replace('19.9', '19.999'), '$.price', /at most 2 fraction digits/);
  });

  it('resolves a union from plain JSON, trying its types in order', () => {
    const schema = ['null', 'string', 'long'];
    assert.equal(convert(schema, 'null'), null);
    assert.deepEqual(convert(schema, '"x"'), { string: 'x' });
    assert.deepEqual(convert(schema, '42'), { long: 42n });
    mismatch(schema, 'true', '$', /matches none of the union's types \(null, string, long\)/);
  });

  it('fills defaults, and names a missing required field or an unknown one', () => {
    const schema = {
      type: 'record',
      name: 'R',
      fields: [
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int', default: 7 },
        {
          name: 'inner',
          type: { type: 'record', name: 'I', fields: [{ name: 'x', type: 'int' }] },
        },
      ],
    };
    assert.deepEqual(convert(schema, '{"a":"v","inner":{"x":1}}'), {
      a: 'v',
      b: 7,
      inner: { x: 1 },
    });
    mismatch(schema, '{"inner":{"x":1}}', '$.a', /required field is missing/);
    mismatch(schema, '{"a":"v","inner":{"x":1,"y":2}}', '$.inner.y', /has no such field/);
    mismatch(schema, '{"a":"v","inner":{"x":"1"}}', '$.inner.x', /expected a whole number \(int\)/);
  });

  it('names the index of a bad array item and checks enums, bytes and int range', () => {
    mismatch({ type: 'array', items: 'int' }, '[1, 2, "3"]', '$[2]', /int/);
    mismatch({ type: 'enum', name: 'E', symbols: ['A', 'B'] }, '"C"', '$', /one of A, B/);
    assert.deepEqual(convert('bytes', '"AQID"'), Buffer.from([1, 2, 3]));
    mismatch('int', '2147483648', '$', /does not fit a 32-bit int/);
  });

  it('reads a payload of a recursive schema hundreds of levels deep', () => {
    const node = typeOf({
      type: 'record',
      name: 'Node',
      fields: [
        { name: 'at', type: TS_MICROS },
        { name: 'amount', type: DECIMAL },
        { name: 'next', type: ['null', 'Node'] },
      ],
    });
    const payload = nested(
      500,
      (next) => `{"at":"2026-11-22T10:00:00.000001Z","amount":"1.50","next":${next}}`,
    );
    const value = jsonToAvro(node, parseJsonExact(payload));
    const decoded = node.fromBuffer(node.toBuffer(value)) as { next: unknown };
    let depth = 0;
    for (let at: unknown = decoded; at !== null; depth++) {
      at = (at as { next: { Node: unknown } | null }).next?.Node ?? null;
    }
    assert.equal(depth, 500);
  });

  it('refuses a payload nested deeper than MAX_PAYLOAD_DEPTH, saying so, instead of a RangeError', () => {
    const list = typeOf({
      type: 'record',
      name: 'Node',
      fields: [{ name: 'next', type: ['null', 'Node'] }],
    });
    for (const levels of [MAX_PAYLOAD_DEPTH + 1, 20_000]) {
      const plain = nested(levels, (next) => `{"next":${next}}`);
      assert.throws(() => jsonToAvro(list, parseJsonExact(plain)), {
        name: 'PayloadMismatch',
        message: new RegExp(`nested more than ${MAX_PAYLOAD_DEPTH} levels deep`),
      });
    }
    // A number JavaScript would print differently makes parseJsonExact use its reviver, whose
    // walk is recursive too.
    const exact = nested(20_000, (next) => `[1.0,${next}]`);
    assert.throws(() => parseJsonExact(exact), { name: 'PayloadMismatch', message: /nested more/ });
  });
});

/** `levels` levels of `wrap` around null. */
function nested(levels: number, wrap: (inner: string) => string): string {
  let text = 'null';
  for (let i = 0; i < levels; i++) text = wrap(text);
  return text;
}
