/**
 * Turns an event's JSON payload into the value avsc writes for an event type's schema. Payloads
 * are plain JSON as services write them ("note": "x", not Avro's {"string": "x"}), so unions are
 * resolved here, branch by branch, and logical types accept their usual JSON spellings:
 *
 *   long, timestamp-*      a JSON integer, exact beyond 2^53 (read from its source text)
 *   timestamp-millis/micros  also an ISO-8601 text with an offset: "2026-11-22T10:00:00.123Z"
 *   date                   also "YYYY-MM-DD"
 *   decimal                a JSON number or a decimal text ("12.30"), never rounded
 *   bytes, fixed           base64 text
 *
 * Nothing is dropped or rounded: a field the schema does not know, a missing field without a
 * default, or a value that would lose digits is an error naming the field's path.
 */
import type avro from 'avsc';
import { DecimalType } from './logical-types.ts';

/** Why a payload does not fit its schema; `path` is the field path, `$` for the root. */
export class PayloadMismatch extends Error {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'PayloadMismatch';
    this.path = path;
  }
}

/** A payload nested deeper than MAX_PAYLOAD_DEPTH: no union branch can fix that. */
class PayloadTooDeep extends PayloadMismatch {}

/** A JSON number as written, so that longs and decimals keep every digit. */
class JsonNumber {
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
}

/**
 * JSON.parse, keeping each number's source text. Throws SyntaxError on malformed JSON.
 *
 * A number whose text is what JavaScript prints for it (`42`, `19.9`, `-3`) loses nothing as a
 * double, so when every number of the text is such, plain JSON.parse does (about 4x faster than
 * with a reviver) and those numbers stay JS numbers. Any other number (`19.90`, `1.0`, a long
 * beyond 2^53, `1e3`) makes the whole text go through the reviver that keeps its source.
 */
export function parseJsonExact(text: string): unknown {
  if (numbersRoundTrip(text)) return JSON.parse(text);
  try {
    return JSON.parse(text, keepNumberSource);
  } catch (error) {
    // The reviver walk is recursive: thousands of levels overflow the stack.
    if (error instanceof RangeError) throw tooDeep('$');
    throw error;
  }
}

function keepNumberSource(_key: string, value: unknown, context?: { source?: string }): unknown {
  return typeof value === 'number' && context?.source !== undefined
    ? new JsonNumber(context.source)
    : value;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** True when every number literal outside strings prints back as itself from a double. */
function numbersRoundTrip(text: string): boolean {
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < length; i++) {
        const d = text.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let end = i + 1;
      while (end < length && isNumberChar(text.charCodeAt(end))) end++;
      const literal = text.slice(i, end);
      if (String(Number(literal)) !== literal) return false;
      i = end - 1;
    }
  }
  return true;
}

function isNumberChar(c: number): boolean {
  // digits, '.', 'e', 'E', '+', '-'
  return (
    (c >= ZERO && c <= NINE) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === MINUS
  );
}

/** A number's text as written: kept by the reviver, or printed from a double that round-trips. */
function numberSource(json: unknown): string | undefined {
  if (typeof json === 'number') return String(json);
  if (json instanceof JsonNumber) return json.source;
  return undefined;
}

/**
 * How deep a payload may nest objects and arrays. A recursive schema (a record with a field of
 * its own type) allows any depth; this bound keeps the walk, and avsc's own recursive writer,
 * well inside Node's stack, so a pathological payload is a dead letter saying why, not a
 * RangeError. Ten times what any event we have seen needs.
 */
export const MAX_PAYLOAD_DEPTH = 1000;

/** The avsc value of `json` (from parseJsonExact) for `type`; throws PayloadMismatch. */
export function jsonToAvro(type: avro.Type, json: unknown, path = '$', depth = 0): unknown {
  const convert = CONVERTERS[type.typeName];
  if (!convert) throw new PayloadMismatch(path, `Avro type ${type.typeName} is not supported`);
  return convert(type, json, path, depth);
}

/** `depth`: objects and arrays around `json`; a converter nesting further adds one. */
function tooDeep(path: string): PayloadTooDeep {
  return new PayloadTooDeep(path, `nested more than ${MAX_PAYLOAD_DEPTH} levels deep`);
}

type Converter = (type: avro.Type, json: unknown, path: string, depth: number) => unknown;

function deeper(depth: number, path: string): number {
  if (depth >= MAX_PAYLOAD_DEPTH) throw tooDeep(path);
  return depth + 1;
}

const INT_TEXT = /^-?\d+$/;
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

function describe(json: unknown): string {
  if (json === null) return 'null';
  const number = numberSource(json);
  if (number !== undefined) return `the number ${number}`;
  if (Array.isArray(json)) return 'an array';
  if (typeof json === 'string') return `the string ${JSON.stringify(json.slice(0, 40))}`;
  return `${typeof json === 'object' ? 'an object' : typeof json}`;
}

function expected(path: string, what: string, json: unknown): PayloadMismatch {
  return new PayloadMismatch(path, `expected ${what}, got ${describe(json)}`);
}

function integerText(json: unknown): string | undefined {
  const number = numberSource(json);
  if (number !== undefined && INT_TEXT.test(number)) return number;
  if (typeof json === 'string' && INT_TEXT.test(json)) return json;
  return undefined;
}

function toLong(json: unknown, path: string, what = 'a whole number (long)'): bigint {
  const text = integerText(json);
  if (text === undefined) throw expected(path, what, json);
  const value = BigInt(text);
  if (value < -(1n << 63n) || value >= 1n << 63n) {
    throw new PayloadMismatch(path, `${text} does not fit a 64-bit long`);
  }
  return value;
}

function toInt(json: unknown, path: string, what = 'a whole number (int)'): number {
  const number = numberSource(json);
  if (number === undefined || !INT_TEXT.test(number)) throw expected(path, what, json);
  const value = Number(number);
  if (value < INT_MIN || value > INT_MAX) {
    throw new PayloadMismatch(path, `${number} does not fit a 32-bit int`);
  }
  return value;
}

function toFloating(json: unknown, path: string): number {
  const number = numberSource(json);
  if (number === undefined) throw expected(path, 'a number', json);
  return Number(number);
}

function toBytes(json: unknown, path: string): Buffer {
  if (typeof json !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(json)) {
    throw expected(path, 'base64 text (bytes)', json);
  }
  return Buffer.from(json, 'base64');
}

// ISO-8601 with a mandatory offset: a time without one would be read in whatever zone.
const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Microseconds or milliseconds since the epoch of an ISO text; undefined if it is not one. */
function isoToEpoch(text: string, digits: 3 | 6, path: string): bigint | undefined {
  const match = ISO_TIMESTAMP.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = match as string[];
  const millis = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (!sameFields(millis, [y, mo, d, h, mi, s] as string[])) return undefined;
  if (fraction.replace(/0+$/, '').length > digits) {
    throw new PayloadMismatch(
      path,
      `${text} has more precision than ${digits === 3 ? 'milli' : 'micro'}seconds`,
    );
  }
  const offsetMinutes = zoneMinutes(zone);
  const unit = digits === 3 ? 1n : 1000n;
  const seconds = BigInt(millis / 1000 - offsetMinutes * 60);
  return seconds * 1000n * unit + BigInt(fraction.padEnd(digits, '0').slice(0, digits));
}

/** False for 2026-02-30 or 25:00, which Date.UTC would roll over, and for years before 100. */
function sameFields(millis: number, fields: string[]): boolean {
  if (Number.isNaN(millis)) return false;
  const t = new Date(millis);
  const actual = [
    t.getUTCFullYear(),
    t.getUTCMonth() + 1,
    t.getUTCDate(),
    t.getUTCHours(),
    t.getUTCMinutes(),
    t.getUTCSeconds(),
  ];
  return actual.every((value, i) => value === Number(fields[i]));
}

function zoneMinutes(zone: string): number {
  if (zone.toUpperCase() === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
}

function timestamp(digits: 3 | 6): Converter {
  const what = `epoch ${digits === 3 ? 'milliseconds' : 'microseconds'} or an ISO-8601 timestamp with an offset`;
  return (_type, json, path) => {
    if (typeof json === 'string' && !INT_TEXT.test(json)) {
      const epoch = isoToEpoch(json, digits, path);
      if (epoch === undefined) throw expected(path, what, json);
      return epoch;
    }
    return toLong(json, path, what);
  };
}

function date(_type: avro.Type, json: unknown, path: string): number {
  if (typeof json === 'string') {
    const match = ISO_DATE.exec(json);
    const millis = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN;
    if (Number.isNaN(millis) || new Date(millis).toISOString().slice(0, 10) !== json) {
      throw expected(path, 'a date "YYYY-MM-DD" or a day count', json);
    }
    return millis / 86_400_000;
  }
  return toInt(json, path, 'a date "YYYY-MM-DD" or a day count');
}

function decimal(type: avro.Type, json: unknown, path: string): string {
  const decimalType = type as DecimalType;
  const text = numberSource(json) ?? json;
  const what = `a decimal with at most ${decimalType.scale} fraction digits and ${decimalType.precision} digits in all`;
  if (typeof text !== 'string' || decimalType.unscaled(text) === undefined) {
    throw expected(path, what, json);
  }
  return text;
}

function record(
  type: avro.Type,
  json: unknown,
  path: string,
  depth: number,
): Record<string, unknown> {
  if (
    json === null ||
    typeof json !== 'object' ||
    Array.isArray(json) ||
    json instanceof JsonNumber
  ) {
    throw expected(path, `an object (record ${type.name ?? ''})`, json);
  }
  const input = json as Record<string, unknown>;
  const fields = (type as avro.types.RecordType).fields;
  const known = fieldNames(type as avro.types.RecordType);
  const unknown = Object.keys(input).find((name) => !known.has(name));
  if (unknown !== undefined) {
    throw new PayloadMismatch(
      `${path}.${unknown}`,
      `the schema of ${type.name ?? 'the record'} has no such field`,
    );
  }
  const value: Record<string, unknown> = {};
  const inner = deeper(depth, path);
  for (const field of fields) {
    const fieldPath = `${path}.${field.name}`;
    if (Object.hasOwn(input, field.name)) {
      value[field.name] = jsonToAvro(field.type, input[field.name], fieldPath, inner);
    } else if (field.defaultValue() !== undefined) {
      value[field.name] = field.defaultValue();
    } else {
      throw new PayloadMismatch(fieldPath, 'required field is missing (it has no default)');
    }
  }
  return value;
}

const FIELD_NAMES = new WeakMap<avro.types.RecordType, ReadonlySet<string>>();

function fieldNames(type: avro.types.RecordType): ReadonlySet<string> {
  let names = FIELD_NAMES.get(type);
  if (!names) FIELD_NAMES.set(type, (names = new Set(type.fields.map((f) => f.name))));
  return names;
}

function union(type: avro.Type, json: unknown, path: string, depth: number): unknown {
  const branches = (type as avro.types.WrappedUnionType).types;
  if (json === null && branches.some((b) => b.typeName === 'null')) return null;
  for (const branch of branches) {
    if (branch.typeName === 'null') continue;
    try {
      return { [branch.branchName as string]: jsonToAvro(branch, json, path, depth) };
    } catch (error) {
      if (!(error instanceof PayloadMismatch) || error instanceof PayloadTooDeep) throw error;
    }
  }
  const names = branches.map((b) => b.branchName).join(', ');
  throw new PayloadMismatch(path, `${describe(json)} matches none of the union's types (${names})`);
}

const CONVERTERS: Readonly<Record<string, Converter>> = {
  null: (_t, json, path) => {
    if (json !== null) throw expected(path, 'null', json);
    return null;
  },
  boolean: (_t, json, path) => {
    if (typeof json !== 'boolean') throw expected(path, 'true or false', json);
    return json;
  },
  int: (_t, json, path) => toInt(json, path),
  long: (_t, json, path) => toLong(json, path),
  'abstract:long': (_t, json, path) => toLong(json, path),
  float: (_t, json, path) => toFloating(json, path),
  double: (_t, json, path) => toFloating(json, path),
  string: (_t, json, path) => {
    if (typeof json !== 'string') throw expected(path, 'a string', json);
    return json;
  },
  bytes: (_t, json, path) => toBytes(json, path),
  fixed: (type, json, path) => {
    const bytes = toBytes(json, path);
    const size = (type as avro.types.FixedType).size;
    if (bytes.length !== size)
      throw new PayloadMismatch(path, `expected ${size} bytes, got ${bytes.length}`);
    return bytes;
  },
  enum: (type, json, path) => {
    const symbols = (type as avro.types.EnumType).symbols;
    if (typeof json !== 'string' || !symbols.includes(json)) {
      throw expected(path, `one of ${symbols.join(', ')}`, json);
    }
    return json;
  },
  array: (type, json, path, depth) => {
    if (!Array.isArray(json)) throw expected(path, 'an array', json);
    const items = (type as avro.types.ArrayType).itemsType;
    const inner = deeper(depth, path);
    return json.map((item, i) => jsonToAvro(items, item, `${path}[${i}]`, inner));
  },
  map: (type, json, path, depth) => {
    if (
      json === null ||
      typeof json !== 'object' ||
      Array.isArray(json) ||
      json instanceof JsonNumber
    ) {
      throw expected(path, 'an object (map)', json);
    }
    const values = (type as avro.types.MapType).valuesType as avro.Type;
    const out: Record<string, unknown> = {};
    const inner = deeper(depth, path);
    for (const [key, item] of Object.entries(json as Record<string, unknown>))
      out[key] = jsonToAvro(values, item, `${path}.${key}`, inner);
    return out;
  },
  record,
  error: record,
  'union:wrapped': union,
  'logical:timestamp-millis': timestamp(3),
  'logical:timestamp-micros': timestamp(6),
  'logical:date': date,
  'logical:decimal': decimal,
  'logical:uuid': (_t, json, path) => {
    if (typeof json !== 'string') throw expected(path, 'a UUID string', json);
    return json;
  },
};
