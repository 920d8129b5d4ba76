/**
 * Avro logical types for avsc, which has none built in. Each class maps an Avro value to the JS
 * value the relay uses; `logicalTypes` is the registry handed to `avro.Type.forSchema`, so
 * timestamp-millis, date or decimal are one class and one entry each.
 *
 * Invariant: every Avro `long` is a JS bigint (see bigint-long.ts), logical or not.
 */
import avro from 'avsc';
import { bigintLongType, isLong, isLongSchema } from './bigint-long.ts';

type LogicalTypeClass = new (schema: avro.Schema, opts?: unknown) => avro.types.LogicalType;

/** `uuid` rather than avsc's internal `logical:uuid`, `long` rather than `abstract:long`. */
export function avroTypeLabel(type: avro.Type): string {
  return type.typeName.replace(/^(logical|abstract):/, '');
}

/** Rejects a logical type on the wrong underlying type (with `assertLogicalTypes`, loudly). */
function requireUnderlying(type: avro.types.LogicalType, label: string): void {
  const actual = avroTypeLabel(type.underlyingType);
  if (actual !== label) {
    throw new Error(`${avroTypeLabel(type)} needs an underlying ${label}, not ${actual}`);
  }
}

/** Hook that makes a long-based logical type's underlying type the bigint long. */
function bigintUnderlying(opts: unknown): Partial<avro.ForSchemaOptions> {
  // avsc builds the underlying type of {"type": "long", "logicalType": ...} as its number long,
  // bypassing the registry; the hook applies to that one nested call only.
  const typeHook = (schema: avro.Schema) => (isLongSchema(schema) ? bigintLongType : undefined);
  return { ...(opts as Partial<avro.ForSchemaOptions>), typeHook };
}

/** The units of Avro's timestamp logical types: the suffix of their `logicalType` name. */
const TIMESTAMP_UNITS = ['millis', 'micros'] as const;
export type TimestampUnit = (typeof TIMESTAMP_UNITS)[number];

/**
 * timestamp-millis and timestamp-micros: milli- or microseconds since the Unix epoch, as a bigint
 * like every long (a Date would drop micros). One class for both units: avsc constructs it from
 * the schema, whose `logicalType` names the unit; a writer of the other unit does not resolve.
 */
export class TimestampType extends avro.types.LogicalType {
  readonly unit: TimestampUnit;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, bigintUnderlying(opts));
    requireUnderlying(this, 'long');
    const unit = TIMESTAMP_UNITS.find((u) => avroTypeLabel(this) === `timestamp-${u}`);
    if (!unit) throw new Error(`${avroTypeLabel(this)} is not a timestamp logical type`);
    this.unit = unit;
  }

  protected override _fromValue(value: bigint): bigint {
    return value;
  }

  protected override _toValue(value: unknown): bigint | undefined {
    return isLong(value) ? value : undefined;
  }

  protected override _resolve(writer: avro.Type): ((value: bigint) => bigint) | undefined {
    const compatible = ['long', 'abstract:long', this.typeName];
    return compatible.includes(writer.typeName) ? (value) => value : undefined;
  }
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** uuid: the 8-4-4-4-12 hex text (any version, either case), kept as a string. */
export class UuidType extends avro.types.LogicalType {
  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    requireUnderlying(this, 'string');
  }

  protected override _fromValue(value: string): string {
    return value;
  }

  protected override _toValue(value: unknown): string | undefined {
    return typeof value === 'string' && UUID_TEXT.test(value) ? value : undefined;
  }

  protected override _resolve(writer: avro.Type): ((value: string) => string) | undefined {
    const compatible = ['string', 'logical:uuid'];
    return compatible.includes(writer.typeName) ? (value) => value : undefined;
  }
}

/** date: days since 1970-01-01, as a number (an Avro int). */
export class DateType extends avro.types.LogicalType {
  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    requireUnderlying(this, 'int');
  }

  protected override _fromValue(value: number): number {
    return value;
  }

  protected override _toValue(value: unknown): number | undefined {
    return Number.isInteger(value) ? (value as number) : undefined;
  }

  protected override _resolve(writer: avro.Type): ((value: number) => number) | undefined {
    const compatible = ['int', 'logical:date'];
    return compatible.includes(writer.typeName) ? (value) => value : undefined;
  }
}

const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * decimal: kept as its decimal text with exactly `scale` fraction digits ("12.30" at scale 2),
 * written as the big-endian two's-complement unscaled integer the spec defines, in bytes or in a
 * fixed. Text in, text out: a JS number would round, and no value is ever rounded here. A value
 * with more fraction digits than the scale, or more digits than the precision, is invalid.
 */
export class DecimalType extends avro.types.LogicalType {
  readonly precision: number;
  readonly scale: number;
  private readonly fixedSize: number | undefined;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    const { precision, scale = 0 } = schema as { precision?: unknown; scale?: unknown };
    const underlying = avroTypeLabel(this.underlyingType);
    if (underlying !== 'bytes' && underlying !== 'fixed') {
      throw new Error(`decimal needs an underlying bytes or fixed, not ${underlying}`);
    }
    if (!Number.isInteger(precision) || (precision as number) < 1) {
      throw new Error('decimal needs a precision, a whole number of at least 1');
    }
    if (
      !Number.isInteger(scale) ||
      (scale as number) < 0 ||
      (scale as number) > (precision as number)
    ) {
      throw new Error('decimal scale must be a whole number from 0 to the precision');
    }
    this.precision = precision as number;
    this.scale = scale as number;
    this.fixedSize =
      underlying === 'fixed' ? (this.underlyingType as avro.types.FixedType).size : undefined;
  }

  /** The unscaled integer of `text` at this scale, or undefined when it does not fit exactly. */
  unscaled(text: string): bigint | undefined {
    const match = DECIMAL_TEXT.exec(text);
    if (!match) return undefined;
    const [, sign = '', whole = '', fraction = ''] = match;
    if (fraction.length > this.scale) return undefined;
    const digits = (whole + fraction.padEnd(this.scale, '0')).replace(/^0+(?=\d)/, '');
    if (digits.length > this.precision) return undefined;
    const value = BigInt(digits);
    return sign === '-' ? -value : value;
  }

  protected override _fromValue(bytes: Buffer): string {
    return formatDecimal(twosComplementToBigint(bytes), this.scale);
  }

  protected override _toValue(value: unknown): Buffer | undefined {
    if (typeof value !== 'string') return undefined;
    const unscaled = this.unscaled(value);
    if (unscaled === undefined) return undefined;
    return bigintToTwosComplement(unscaled, this.fixedSize);
  }

  protected override _resolve(writer: avro.Type): ((value: string) => string) | undefined {
    if (!(writer instanceof DecimalType)) return undefined;
    if (writer.scale !== this.scale || writer.precision > this.precision) return undefined;
    return (value) => value;
  }

  protected override _export(attrs: avro.Schema): void {
    Object.assign(attrs, { precision: this.precision, scale: this.scale });
  }
}

function twosComplementToBigint(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  const unsigned = BigInt(`0x${bytes.toString('hex')}`);
  const negative = (bytes[0] ?? 0) >= 0x80;
  return negative ? unsigned - (1n << BigInt(bytes.length * 8)) : unsigned;
}

/** The shortest big-endian two's complement of `value`, or exactly `size` bytes for a fixed. */
function bigintToTwosComplement(value: bigint, size?: number): Buffer | undefined {
  let length = 1;
  while (value < -(1n << BigInt(length * 8 - 1)) || value >= 1n << BigInt(length * 8 - 1)) length++;
  if (size !== undefined && length > size) return undefined;
  const bytes = size ?? length;
  const unsigned = value < 0n ? value + (1n << BigInt(bytes * 8)) : value;
  return Buffer.from(unsigned.toString(16).padStart(bytes * 2, '0'), 'hex');
}

function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** The logical types the relay understands, keyed by their Avro `logicalType` name. */
export const logicalTypes: Readonly<Record<string, LogicalTypeClass>> = Object.freeze({
  'timestamp-millis': TimestampType,
  'timestamp-micros': TimestampType,
  date: DateType,
  decimal: DecimalType,
  uuid: UuidType,
});

/** Plain longs (no logical type we know) become bigint longs too. */
function plainLongHook(schema: avro.Schema): avro.Type | undefined {
  const logical = typeof schema === 'object' && 'logicalType' in schema ? schema.logicalType : '';
  return isLongSchema(schema) && !Object.hasOwn(logicalTypes, logical) ? bigintLongType : undefined;
}

/** Options for every `avro.Type.forSchema` call in the relay; fresh, since avsc mutates them. */
export function avroTypeOptions(): Partial<avro.ForSchemaOptions> {
  return {
    logicalTypes: { ...logicalTypes },
    typeHook: plainLongHook,
    assertLogicalTypes: true,
    omitRecordMethods: true,
  };
}
