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

/** timestamp-micros: microseconds since the Unix epoch, as a bigint (a Date would drop micros). */
export class TimestampMicrosType extends avro.types.LogicalType {
  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, bigintUnderlying(opts));
    requireUnderlying(this, 'long');
  }

  protected override _fromValue(value: bigint): bigint {
    return value;
  }

  protected override _toValue(value: unknown): bigint | undefined {
    return isLong(value) ? value : undefined;
  }

  protected override _resolve(writer: avro.Type): ((value: bigint) => bigint) | undefined {
    const compatible = ['long', 'abstract:long', 'logical:timestamp-micros'];
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

/** The logical types the relay understands, keyed by their Avro `logicalType` name. */
export const logicalTypes: Readonly<Record<string, LogicalTypeClass>> = Object.freeze({
  'timestamp-micros': TimestampMicrosType,
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
