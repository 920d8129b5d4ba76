/**
 * A dead letter carries the original row and says why it could not be an event. It travels
 * through the same publisher, in order, and counts toward its transaction's acknowledgement: a
 * bad row is never dropped and never blocks the good events behind it.
 */
import type { BadRow } from '../decode/outbox-row.ts';
import type { BadRowReason } from '../domain/bad-row-reason.ts';
import type { OutboxEvent } from '../domain/event.ts';
import { formatLsn } from '../domain/lsn.ts';
import type { QueuedRecord, RefusalReason } from '../publish/publisher.ts';
import { AGGREGATE_TYPE_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER } from '../route/headers.ts';

export const DEAD_LETTER_HEADERS = {
  reason: 'dlq_reason',
  detail: 'dlq_detail',
  intendedTopic: 'dlq_intended_topic',
  eventId: 'event_id',
  commitLsn: 'dlq_commit_lsn',
} as const;

export interface DeadLetter {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer;
  readonly headers: Record<string, string>;
}

/**
 * The dead-letter record for a row that could not be an event. The builders below make the
 * `BadRow` of the families that do not come from decoding (decode/outbox-row.ts makes those of
 * bad outbox rows and of rows of other tables).
 */
export function deadLetter(bad: BadRow, topic: string, intendedTopic: string | null): DeadLetter {
  const headers: Record<string, string> = {
    [DEAD_LETTER_HEADERS.reason]: bad.reason,
    [DEAD_LETTER_HEADERS.detail]: bad.detail,
    [DEAD_LETTER_HEADERS.commitLsn]: formatLsn(bad.position.commitLsn),
  };
  if (intendedTopic) headers[DEAD_LETTER_HEADERS.intendedTopic] = intendedTopic;
  if (bad.eventId) headers[DEAD_LETTER_HEADERS.eventId] = bad.eventId;
  return {
    topic,
    key: bad.row.aggregate_id || bad.eventId || null,
    value: Buffer.from(JSON.stringify(bad.row)),
    headers,
  };
}

/**
 * An event the router or the encoder could not turn into a record (`unroutable`, or the
 * encoder's reason): the row as the outbox holds it, so that `replay --ids` can send it once the
 * cause is fixed.
 */
export function unencodableEvent(event: OutboxEvent, reason: BadRowReason, detail: string): BadRow {
  const row = {
    id: event.id,
    aggregate_type: event.aggregateType,
    aggregate_id: event.aggregateId,
    event_type: event.eventType,
    payload: event.payload,
    headers: JSON.stringify(event.headers),
  };
  return { reason, detail, row, eventId: event.id, position: event.position };
}

/**
 * A record Kafka refuses for good: too large for its topic, or a topic Kafka will not create or
 * let us write (`unroutable`). It names the event and where it was going; the payload (only its
 * encoded form is at hand, and it may be what was too large) stays in the outbox table, from
 * where `outbox-relay replay --ids` sends it once the cause is fixed.
 */
export function refusedRecord(record: QueuedRecord, reason: RefusalReason, detail: string): BadRow {
  const eventId = record.headers[EVENT_ID_HEADER] ?? null;
  const what =
    reason === 'too-large'
      ? `the record is ${record.value.length} bytes, more than Kafka accepts`
      : 'Kafka refuses the record or its topic';
  return {
    reason,
    detail: `${what} (${detail}); its payload is left out here and stays in the outbox table`,
    row: {
      id: eventId,
      aggregate_type: record.headers[AGGREGATE_TYPE_HEADER] ?? null,
      aggregate_id: typeof record.key === 'string' ? record.key : null,
      event_type: record.headers[EVENT_TYPE_HEADER] ?? null,
      payload: null,
    },
    eventId,
    position: { commitLsn: record.commitLsn, txSeq: record.txSeq, index: record.index },
  };
}
