/**
 * Kafka record headers: enough for a consumer to filter or dispatch without decoding the value.
 * The names are part of the relay's contract with consumers; change them only with a major release.
 */
import type { OutboxEvent } from '../domain/event.ts';

export const EVENT_ID_HEADER = 'event_id';
export const EVENT_TYPE_HEADER = 'event_type';
export const AGGREGATE_TYPE_HEADER = 'aggregate_type';
export const CONTENT_TYPE_HEADER = 'content-type';

/** The value's format: Avro single-object encoding of the outbox envelope. */
export const AVRO_CONTENT_TYPE = 'avro/binary';

/** W3C Trace Context: copied from the row's headers column, so a trace spans the relay. */
export const TRACE_HEADERS = ['traceparent', 'tracestate'] as const;

/** Debezium's outbox router sends the event id under this name (RELAY_OUTBOX_LAYOUT=debezium). */
export const DEBEZIUM_ID_HEADER = 'id';

export interface HeaderOptions {
  /** When set, CloudEvents binary-mode headers with this `ce_source` are added. */
  readonly cloudEventsSource?: string | undefined;
  /** RELAY_VALUE_FORMAT=raw: the value is the payload as stored, so no `content-type` header. */
  readonly rawValue?: boolean | undefined;
  /** Add Debezium's `id` header with the event id. */
  readonly idHeader?: boolean | undefined;
}

export function recordHeaders(
  event: OutboxEvent,
  options: HeaderOptions = {},
): Record<string, string> {
  const headers: Record<string, string> = {
    [EVENT_ID_HEADER]: event.id,
    [EVENT_TYPE_HEADER]: event.eventType,
    [AGGREGATE_TYPE_HEADER]: event.aggregateType,
  };
  if (!options.rawValue) headers[CONTENT_TYPE_HEADER] = AVRO_CONTENT_TYPE;
  if (options.idHeader) headers[DEBEZIUM_ID_HEADER] = event.id;
  for (const name of TRACE_HEADERS) {
    const value = event.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  if (event.extraHeaders !== undefined) Object.assign(headers, event.extraHeaders);
  if (options.cloudEventsSource !== undefined) {
    Object.assign(headers, cloudEventsHeaders(event, options.cloudEventsSource));
  }
  return headers;
}

/**
 * CloudEvents 1.0, Kafka protocol binding, binary content mode: the attributes as `ce_` headers
 * beside the Avro value, whose media type is the `content-type` header.
 */
function cloudEventsHeaders(event: OutboxEvent, source: string): Record<string, string> {
  return {
    ce_specversion: '1.0',
    ce_id: event.id,
    ce_source: source,
    ce_type: event.eventType,
    ce_time: rfc3339Micros(event.createdAtMicros),
    ce_subject: event.aggregateId,
  };
}

/** RFC 3339 in UTC with all six fraction digits Postgres keeps. */
export function rfc3339Micros(micros: bigint): string {
  const millis = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const iso = new Date(Number(millis)).toISOString(); // yyyy-mm-ddThh:mm:ss.mmmZ
  const subMillis = ((micros % 1000n) + 1000n) % 1000n;
  return `${iso.slice(0, -1)}${subMillis.toString().padStart(3, '0')}Z`;
}
