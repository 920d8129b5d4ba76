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

export function recordHeaders(event: OutboxEvent): Record<string, string> {
  return {
    [EVENT_ID_HEADER]: event.id,
    [EVENT_TYPE_HEADER]: event.eventType,
    [AGGREGATE_TYPE_HEADER]: event.aggregateType,
    [CONTENT_TYPE_HEADER]: AVRO_CONTENT_TYPE,
  };
}
