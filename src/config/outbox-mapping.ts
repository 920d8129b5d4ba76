/**
 * Which column of the outbox table holds what (issue 14): the relay's own table (`relay`), or
 * Debezium's documented default outbox table (`debezium`), with per-column overrides, the
 * record key's column, and additional columns placed as Kafka headers. Built once from the
 * settings; `compileRelation` turns it into column indexes once per pgoutput Relation, so that
 * decoding a row never looks a column up by name.
 */
import { RelayError } from '../domain/errors.ts';

export const OUTBOX_LAYOUTS = ['relay', 'debezium'] as const;
export type OutboxLayout = (typeof OUTBOX_LAYOUTS)[number];
export const VALUE_FORMATS = ['avro', 'raw'] as const;
export type ValueFormat = (typeof VALUE_FORMATS)[number];

/** The setting value that says a layout has no such column. */
export const NO_COLUMN = 'none';

/** The roles a column plays; each maps to one column of the table. */
export interface OutboxColumnNames {
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly eventType: string;
  readonly payload: string;
  /** null: no such column, the transaction's commit time is the event's time. */
  readonly createdAt: string | null;
  /** null: no such column, events carry no headers of the writer's. */
  readonly headers: string | null;
}

export type ColumnRole = keyof OutboxColumnNames;

export const LAYOUT_COLUMNS: Readonly<Record<OutboxLayout, OutboxColumnNames>> = {
  relay: {
    id: 'id',
    aggregateType: 'aggregate_type',
    aggregateId: 'aggregate_id',
    eventType: 'event_type',
    payload: 'payload',
    createdAt: 'created_at',
    headers: 'headers',
  },
  // Debezium's documented outbox table; `timestamp` and `tracingspancontext` are optional there.
  debezium: {
    id: 'id',
    aggregateType: 'aggregatetype',
    aggregateId: 'aggregateid',
    eventType: 'type',
    payload: 'payload',
    createdAt: 'timestamp',
    headers: 'tracingspancontext',
  },
};

/** The setting that overrides each role's column, for messages that name what to fix. */
export const COLUMN_SETTINGS: Readonly<Record<ColumnRole, string>> = {
  id: 'RELAY_COLUMN_ID',
  aggregateType: 'RELAY_COLUMN_AGGREGATE_TYPE',
  aggregateId: 'RELAY_COLUMN_AGGREGATE_ID',
  eventType: 'RELAY_COLUMN_EVENT_TYPE',
  payload: 'RELAY_COLUMN_PAYLOAD',
  createdAt: 'RELAY_COLUMN_CREATED_AT',
  headers: 'RELAY_COLUMN_HEADERS',
};

export const KEY_COLUMN_SETTING = 'RELAY_KEY_COLUMN';
export const ADDITIONAL_COLUMNS_SETTING = 'RELAY_ADDITIONAL_COLUMNS';

/**
 * A column sent along as a Kafka header, or as an optional string field appended to the Avro
 * envelope (Debezium's `table.fields.additional.placement`).
 */
export interface AdditionalColumn {
  readonly column: string;
  readonly placement: 'header' | 'envelope';
  /** The header's or field's name. */
  readonly name: string;
}

export interface OutboxMapping {
  readonly layout: OutboxLayout;
  readonly columns: OutboxColumnNames;
  /** The column whose value is the Kafka key; the aggregate id's unless RELAY_KEY_COLUMN. */
  readonly keyColumn: string;
  readonly additional: readonly AdditionalColumn[];
  readonly valueFormat: ValueFormat;
  /** Debezium's EventRouter sends the event id as an `id` header; so does this layout. */
  readonly idHeader: boolean;
  /**
   * Columns the table may lack: a preset's optional ones (the relay's `headers`, Debezium's
   * `timestamp` and `tracingspancontext`), unless a setting named them.
   */
  readonly optionalColumns: ReadonlySet<string>;
  /**
   * How the headers column is written: a JSON object, or, for Debezium's `tracingspancontext`,
   * the java.util.Properties text Debezium's tracing writes (`traceparent=00-…` lines).
   */
  readonly headersFormat: 'json' | 'properties';
}

/** The settings the mapping is built from (a slice of RelayConfig). */
export interface MappingSettings {
  readonly outboxLayout: OutboxLayout;
  readonly columnId: string;
  readonly columnAggregateType: string;
  readonly columnAggregateId: string;
  readonly columnEventType: string;
  readonly columnPayload: string;
  readonly columnCreatedAt: string;
  readonly columnHeaders: string;
  readonly keyColumn: string;
  readonly additionalColumns: readonly AdditionalColumn[];
  readonly valueFormat: ValueFormat;
}

export function outboxMapping(settings: MappingSettings): OutboxMapping {
  const preset = LAYOUT_COLUMNS[settings.outboxLayout];
  const pick = (value: string, fallback: string) => (value === '' ? fallback : value);
  const optional = (value: string, fallback: string | null) =>
    value === '' ? fallback : value === NO_COLUMN ? null : value;
  const columns: OutboxColumnNames = {
    id: pick(settings.columnId, preset.id),
    aggregateType: pick(settings.columnAggregateType, preset.aggregateType),
    aggregateId: pick(settings.columnAggregateId, preset.aggregateId),
    eventType: pick(settings.columnEventType, preset.eventType),
    payload: pick(settings.columnPayload, preset.payload),
    createdAt: optional(settings.columnCreatedAt, preset.createdAt),
    headers: optional(settings.columnHeaders, preset.headers),
  };
  const optionalColumns = new Set<string>();
  if (settings.columnHeaders === '' && preset.headers) optionalColumns.add(preset.headers);
  if (settings.columnCreatedAt === '' && preset.createdAt && settings.outboxLayout !== 'relay')
    optionalColumns.add(preset.createdAt);
  const debeziumTracing = settings.outboxLayout === 'debezium' && settings.columnHeaders === '';
  return Object.freeze({
    optionalColumns,
    headersFormat: debeziumTracing ? ('properties' as const) : ('json' as const),
    layout: settings.outboxLayout,
    columns,
    keyColumn: pick(settings.keyColumn, columns.aggregateId),
    additional: settings.additionalColumns,
    valueFormat: settings.valueFormat,
    idHeader: settings.outboxLayout === 'debezium',
  });
}

/** Every mapping setting at its default: the relay's own table, Avro values. */
export const DEFAULT_MAPPING_SETTINGS: MappingSettings = Object.freeze({
  outboxLayout: 'relay',
  columnId: '',
  columnAggregateType: '',
  columnAggregateId: '',
  columnEventType: '',
  columnPayload: '',
  columnCreatedAt: '',
  columnHeaders: '',
  keyColumn: '',
  additionalColumns: [],
  valueFormat: 'avro',
});

/** The relay's own table, Avro values: what every setting left at its default gives. */
export const RELAY_MAPPING: OutboxMapping = outboxMapping(DEFAULT_MAPPING_SETTINGS);

/** True when the mapping reads the relay's own table layout (what `migrate` creates). */
export function isRelayTable(mapping: OutboxMapping): boolean {
  const relay = LAYOUT_COLUMNS.relay;
  return (Object.keys(relay) as ColumnRole[]).every((r) => mapping.columns[r] === relay[r]);
}

/** A column the mapping reads, and the setting that names it. */
export interface MappedColumn {
  readonly column: string;
  readonly setting: string;
  /** The table may lack it (optional timestamp and headers of a preset). */
  readonly optional: boolean;
}

/** Every column the mapping reads, each once, with the setting to blame when it is missing. */
export function mappedColumns(mapping: OutboxMapping): MappedColumn[] {
  const found = new Map<string, MappedColumn>();
  const add = (column: string | null, setting: string, optional = false) => {
    if (column !== null && !found.has(column)) found.set(column, { column, setting, optional });
  };
  for (const role of ['id', 'aggregateType', 'aggregateId', 'eventType', 'payload'] as const)
    add(mapping.columns[role], COLUMN_SETTINGS[role]);
  // A relay table whose headers column was dropped still carries events (see outbox-row.ts).
  for (const role of ['createdAt', 'headers'] as const) {
    const column = mapping.columns[role];
    add(column, COLUMN_SETTINGS[role], column !== null && mapping.optionalColumns.has(column));
  }
  add(mapping.keyColumn, KEY_COLUMN_SETTING);
  for (const extra of mapping.additional) add(extra.column, ADDITIONAL_COLUMNS_SETTING);
  return [...found.values()];
}

/** The column names of a table that the mapping needs and that it lacks, each with its setting. */
export function missingColumns(
  mapping: OutboxMapping,
  tableColumns: ReadonlySet<string>,
): MappedColumn[] {
  return mappedColumns(mapping).filter((c) => !c.optional && !tableColumns.has(c.column));
}

/** The startup error for columns the table lacks (exit 2): names each setting and column. */
export function missingColumnsError(table: string, missing: readonly MappedColumn[]): RelayError {
  const list = missing.map((m) => `${m.setting} names column "${m.column}"`).join('; ');
  return new RelayError(
    'CONFIG_INVALID',
    `the outbox table ${table} lacks mapped columns: ${list}`,
    {
      hint: 'Set RELAY_OUTBOX_LAYOUT and the RELAY_COLUMN_* settings to the columns the table has (README, "Outbox table layout"), or check RELAY_OUTBOX_SCHEMA / RELAY_OUTBOX_TABLE.',
    },
  );
}

/**
 * A mapping compiled against one pgoutput Relation: the index of each column in its rows, -1
 * for an absent one. Built once per Relation message, used for every row of it.
 */
export interface CompiledRelation {
  readonly id: number;
  readonly aggregateType: number;
  readonly aggregateId: number;
  readonly eventType: number;
  readonly payload: number;
  readonly createdAt: number;
  readonly headers: number;
  readonly key: number;
  readonly payloadTypeOid: number;
  readonly createdAtTypeOid: number;
  /** Additional columns found in the relation, with their index. */
  readonly additional: readonly (AdditionalColumn & { readonly index: number })[];
  /** A column the mapping needs that the relation lacks, and its setting; null if none. */
  readonly missing: MappedColumn | null;
}

export function compileRelation(
  mapping: OutboxMapping,
  columns: readonly { readonly name: string; readonly typeOid: number }[],
): CompiledRelation {
  const indexOf = (name: string | null) =>
    name === null ? -1 : columns.findIndex((c) => c.name === name);
  const names = new Set(columns.map((c) => c.name));
  const payload = indexOf(mapping.columns.payload);
  const createdAt = indexOf(mapping.columns.createdAt);
  return {
    id: indexOf(mapping.columns.id),
    aggregateType: indexOf(mapping.columns.aggregateType),
    aggregateId: indexOf(mapping.columns.aggregateId),
    eventType: indexOf(mapping.columns.eventType),
    payload,
    createdAt,
    headers: indexOf(mapping.columns.headers),
    key: indexOf(mapping.keyColumn),
    payloadTypeOid: columns[payload]?.typeOid ?? 0,
    createdAtTypeOid: columns[createdAt]?.typeOid ?? 0,
    additional: mapping.additional.map((a) => ({ ...a, index: indexOf(a.column) })),
    missing: missingColumns(mapping, names)[0] ?? null,
  };
}

/** The envelope's own fields, which an additional envelope field may not be named like. */
const ENVELOPE_FIELDS = new Set([
  'event_id',
  'event_type',
  'aggregate_type',
  'aggregate_id',
  'created_at',
  'payload',
  'headers',
]);
const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Envelope fields appended for RELAY_ADDITIONAL_COLUMNS, in order. */
export function envelopeFieldNames(mapping: OutboxMapping): string[] {
  return mapping.additional.filter((a) => a.placement === 'envelope').map((a) => a.name);
}

/**
 * RELAY_ADDITIONAL_COLUMNS: `column:header[:name]` or `column:envelope[:name]`, comma-separated.
 * Returns the list, or what is wrong with it.
 */
export function parseAdditionalColumns(text: string): AdditionalColumn[] | string {
  const result: AdditionalColumn[] = [];
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [column = '', placement = '', name, ...rest] = item.split(':');
    if (column === '' || placement === '' || rest.length > 0 || name === '')
      return `"${item}" is not column:header[:name]`;
    if (placement !== 'header' && placement !== 'envelope')
      return `"${item}": the placement must be header or envelope`;
    const field = name ?? column;
    if (placement === 'envelope') {
      if (!AVRO_NAME.test(field))
        return `"${item}": an envelope field name must be letters, digits and _ (an Avro name)`;
      if (
        ENVELOPE_FIELDS.has(field) ||
        result.some((r) => r.name === field && r.placement === placement)
      )
        return `"${item}": the envelope already has a field "${field}"; give it another name`;
    }
    result.push({ column, placement, name: field });
  }
  return result;
}
