/**
 * Turns an inserted outbox row (pgoutput text values) into an OutboxEvent, or says exactly why
 * it cannot: a bad row is dead-lettered with its reason, never dropped and never fatal.
 */
import type { BadRowReason } from '../domain/bad-row-reason.ts';
import type { EventPosition, OutboxEvent } from '../domain/event.ts';
import type { OutboxColumn } from '../domain/outbox-columns.ts';
import {
  compileRelation,
  RELAY_MAPPING,
  type CompiledRelation,
  type OutboxMapping,
} from '../config/outbox-mapping.ts';
import { headerValues, parseKeepingNumbers } from './json-text.ts';
import { UNCHANGED_TOAST, type Relation, type TupleValue } from './pgoutput.ts';

/**
 * Columns a row may lack: a table whose `headers` column was dropped still carries events, each
 * with no headers, as a row with NULL there would. Every other column is needed for an event.
 */
export const OPTIONAL_OUTBOX_COLUMNS: ReadonlySet<OutboxColumn> = new Set(['headers']);

export interface BadRow {
  readonly reason: BadRowReason;
  readonly detail: string;
  /** The row as Postgres sent it, column name to text (null for SQL NULL). */
  readonly row: Readonly<Record<string, string | null>>;
  readonly eventId: string | null;
  readonly position: EventPosition;
}

export type RowResult = { ok: true; event: OutboxEvent } | { ok: false; bad: BadRow };

/** How rows of one relation become events: the mapping compiled against its columns. */
export interface RowDecoder {
  readonly mapping: OutboxMapping;
  readonly compiled: CompiledRelation;
}

/** Compiles the mapping against a relation's columns: once per Relation message, not per row. */
export function rowDecoder(relation: Relation, mapping: OutboxMapping = RELAY_MAPPING): RowDecoder {
  return { mapping, compiled: compileRelation(mapping, relation.columns) };
}

/**
 * The row as an event, or why it cannot be one. `commitTimeMicros` is the event's time when the
 * mapping has no timestamp column.
 */
export function rowToEvent(
  relation: Relation,
  values: readonly TupleValue[],
  position: EventPosition,
  decoder: RowDecoder = rowDecoder(relation),
  commitTimeMicros = 0n,
): RowResult {
  const { compiled: at, mapping } = decoder;
  const names = mapping.columns;
  const value = (index: number): string | null => {
    const v = index < 0 ? null : values[index];
    // An insert always carries every value; unchanged TOAST only appears in updates.
    return v === undefined || v === UNCHANGED_TOAST ? null : v;
  };
  const bad = (reason: BadRowReason, detail: string): RowResult => ({
    ok: false,
    bad: { reason, detail, row: rowRecord(relation, values), eventId: value(at.id), position },
  });
  if (at.missing)
    return bad('missing-column', `the outbox row has no column "${at.missing.column}"`);
  for (const [index, column] of [
    [at.id, names.id],
    [at.aggregateType, names.aggregateType],
    [at.eventType, names.eventType],
  ] as const) {
    if (!value(index)) return bad('missing-value', `column "${column}" is null or empty`);
  }
  if (at.createdAt >= 0 && !value(at.createdAt))
    return bad('missing-value', `column "${names.createdAt}" is null or empty`);
  if (!value(at.aggregateId)) {
    const detail = `${names.aggregateId} is null or empty: the event has no key`;
    return bad('missing-aggregate-id', detail);
  }
  if (at.key !== at.aggregateId && !value(at.key)) {
    const detail = `${mapping.keyColumn} (RELAY_KEY_COLUMN) is null or empty: the event has no key`;
    return bad('missing-aggregate-id', detail);
  }
  const payload = value(at.payload);
  if (payload === null && mapping.valueFormat === 'raw')
    return bad('missing-value', `column "${names.payload}" is null: a raw value cannot be null`);
  const payloadProblem = mapping.valueFormat === 'raw' ? null : jsonTextProblem(at, payload);
  if (payloadProblem) return bad('malformed-payload', payloadProblem);
  const headerText = value(at.headers);
  const headers =
    mapping.headersFormat === 'properties' && headerText !== null
      ? parseProperties(headerText)
      : parseHeaders(headerText, names.headers ?? 'headers');
  if (typeof headers === 'string') return bad('malformed-headers', headers);
  let createdAtMicros = commitTimeMicros;
  if (at.createdAt >= 0) {
    const text = value(at.createdAt) as string;
    const parsed = parseCreatedAt(at.createdAtTypeOid, text);
    if (parsed === null)
      return bad('malformed-timestamp', `${names.createdAt} "${text}" is not a timestamp`);
    createdAtMicros = parsed;
  }
  const event: { -readonly [K in keyof OutboxEvent]: OutboxEvent[K] } = {
    id: value(at.id) as string,
    aggregateType: value(at.aggregateType) as string,
    aggregateId: value(at.aggregateId) as string,
    eventType: value(at.eventType) as string,
    payload: payload ?? 'null',
    headers,
    createdAtMicros,
    position,
  };
  if (at.key !== at.aggregateId) event.key = value(at.key) as string;
  if (at.additional.length > 0) addAdditional(event, at, value);
  return { ok: true, event };
}

/** RELAY_ADDITIONAL_COLUMNS: a NULL sends no header, and null in an envelope field. */
function addAdditional(
  event: { extraHeaders?: Record<string, string>; envelopeFields?: Record<string, string | null> },
  at: CompiledRelation,
  value: (index: number) => string | null,
): void {
  for (const extra of at.additional) {
    const v = value(extra.index);
    if (extra.placement === 'envelope') (event.envelopeFields ??= {})[extra.name] = v;
    else if (v !== null) (event.extraHeaders ??= {})[extra.name] = v;
  }
}

const JSON_TYPE_OIDS = new Set([114 /* json */, 3802 /* jsonb */]);

/**
 * Postgres vouches for a json or jsonb payload; a payload kept in a text column is checked here,
 * so that malformed JSON reaches the dead-letter topic instead of consumers. A relation read
 * with SELECT (replay) has no type OIDs: checked too.
 */
function jsonTextProblem(at: CompiledRelation, payload: string | null): string | null {
  if (payload === null || JSON_TYPE_OIDS.has(at.payloadTypeOid)) return null;
  try {
    JSON.parse(payload);
    return null;
  } catch (error) {
    return `payload is not JSON: ${(error as Error).message}`;
  }
}

/**
 * A row of a published table that is not the outbox (another table added to the publication):
 * never an event, and never skipped silently, so it becomes a dead letter naming its table.
 */
export function foreignRow(
  relation: Relation,
  values: readonly TupleValue[],
  position: EventPosition,
  outbox: string,
): BadRow {
  const table = `${relation.schema}.${relation.name}`;
  return {
    reason: 'foreign-table',
    detail:
      `a row of ${table}, which the publication includes but which is not the outbox ` +
      `(${outbox}); remove ${table} from the publication`,
    row: rowRecord(relation, values),
    eventId: null,
    position,
  };
}

function rowRecord(relation: Relation, values: readonly TupleValue[]) {
  const row: Record<string, string | null> = {};
  relation.columns.forEach((column, i) => {
    const value = values[i];
    // An insert always carries every value; unchanged TOAST only appears in updates.
    row[column.name] = value === undefined || value === UNCHANGED_TOAST ? null : value;
  });
  return row;
}

function parseHeaders(text: string | null, column: string): Record<string, string> | string {
  if (text === null) return {};
  try {
    return headerValues(parseKeepingNumbers(text));
  } catch (error) {
    return `${column} is not JSON: ${(error as Error).message}`;
  }
}

/**
 * java.util.Properties text, as Debezium's outbox tracing stores its span context: `key=value`
 * (or `key:value`) lines, `#` and `!` comments, backslash escapes. Never malformed: any text
 * reads as some properties.
 */
export function parseProperties(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const raw of text.split(/\r?\n|\r/)) {
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const separator = /(?<!\\)[=:]/.exec(line);
    const key = separator ? line.slice(0, separator.index) : line;
    const value = separator ? line.slice(separator.index + 1) : '';
    result[unescapeProperty(key.trim())] = unescapeProperty(value.trimStart());
  }
  return result;
}

function unescapeProperty(text: string): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) =>
    c.length === 5
      ? String.fromCharCode(parseInt(c.slice(1), 16))
      : (({ t: '\t', n: '\n', r: '\r', f: '\f' } as Record<string, string>)[c] ?? c),
  );
}

const TIMESTAMPTZ_OID = 1184;

/**
 * created_at as microseconds since the Unix epoch. A `timestamp` (without time zone) column
 * prints no offset: its wall time is read as UTC. Only a `timestamptz` column, which Postgres
 * always prints with an offset, insists on one.
 */
function parseCreatedAt(typeOid: number, text: string): bigint | null {
  const exact = parseTimestamptz(text);
  if (exact !== null) return exact;
  if (typeOid === TIMESTAMPTZ_OID) return null;
  return parseTimestamptz(`${text}+00`);
}

// ISO output of timestamptz, as the replication session prints it (DateStyle ISO): for example
// "2026-11-22 03:00:05.123456+00" or "1999-01-08 04:05:06+05:30".
const TIMESTAMPTZ =
  /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?$/;

/** Microseconds since the Unix epoch, exact; null for anything else (infinity, BC dates). */
export function parseTimestamptz(text: string): bigint | null {
  const match = TIMESTAMPTZ.exec(text);
  if (!match) return null;
  const [, y, mo, d, h, mi, s, fraction = '', sign, oh, om = '0', os = '0'] = match as string[];
  // Not Date.UTC: it reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s));
  const millis = date.getTime();
  // Postgres goes to year 294276, a Date only to 275760: such a row is bad, not fatal.
  if (Number.isNaN(millis)) return null;
  const offsetSeconds =
    (Number(oh) * 3600 + Number(om) * 60 + Number(os)) * (sign === '-' ? -1 : 1);
  const micros = BigInt(fraction.padEnd(6, '0'));
  return BigInt(millis) * 1000n + micros - BigInt(offsetSeconds) * 1_000_000n;
}
