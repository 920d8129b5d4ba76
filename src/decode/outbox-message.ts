/**
 * Turns a logical message (pg_logical_emit_message with the relay's prefix) into an OutboxEvent,
 * or says why it cannot, as decode/outbox-row.ts does for a row: an outbox without a table, for
 * services that want no table to prune. Its content is a JSON object with the outbox table's
 * column names:
 *
 *   {"id": "…", "aggregate_type": "…", "aggregate_id": "…", "event_type": "…",
 *    "payload": <any JSON>, "headers": {"traceparent": "…"}, "created_at": "<timestamptz>"}
 *
 * `headers` and `created_at` are optional; without `created_at` the event's time is its
 * transaction's commit time. The payload keeps the digits of its numbers.
 */
import type { EventPosition } from '../domain/event.ts';
import {
  headerValues,
  parseKeepingNumbers,
  RawNumber,
  stringifyKeepingNumbers,
} from './json-text.ts';
import { parseTimestamptz, type BadRow, type RowResult } from './outbox-row.ts';
import type { LogicalMessage } from './pgoutput.ts';

const TEXT_FIELDS = ['id', 'aggregate_type', 'aggregate_id', 'event_type'] as const;

export function messageToEvent(
  message: LogicalMessage,
  position: EventPosition,
  commitTimeMicros: bigint,
): RowResult {
  const row = { prefix: message.prefix, content: message.content };
  let parsed: unknown;
  try {
    parsed = parseKeepingNumbers(message.content);
  } catch (error) {
    return bad(
      row,
      null,
      position,
      'malformed-message',
      `content is not JSON: ${(error as Error).message}`,
    );
  }
  if (
    !parsed ||
    typeof parsed !== 'object' ||
    Array.isArray(parsed) ||
    parsed instanceof RawNumber
  ) {
    return bad(
      row,
      null,
      position,
      'malformed-message',
      'content must be a JSON object (the outbox columns by name)',
    );
  }
  const fields = parsed as Record<string, unknown>;
  const text = (name: string): string | null => {
    const value = fields[name];
    return typeof value === 'string' ? value : null;
  };
  const eventId = text('id');
  for (const name of TEXT_FIELDS) {
    if (!text(name)) {
      const reason = name === 'aggregate_id' ? 'missing-aggregate-id' : 'missing-value';
      return bad(row, eventId, position, reason, `"${name}" is missing, empty or not a string`);
    }
  }
  if (!('payload' in fields))
    return bad(row, eventId, position, 'missing-value', '"payload" is missing');
  const headers = headerValues(fields.headers);
  if (typeof headers === 'string') return bad(row, eventId, position, 'malformed-headers', headers);
  let createdAtMicros = commitTimeMicros;
  if (fields.created_at !== undefined && fields.created_at !== null) {
    const at = typeof fields.created_at === 'string' ? parseTimestamptz(fields.created_at) : null;
    if (at === null) {
      const detail = `created_at ${stringifyKeepingNumbers(fields.created_at)} is not a timestamp with an offset`;
      return bad(row, eventId, position, 'malformed-timestamp', detail);
    }
    createdAtMicros = at;
  }
  return {
    ok: true,
    event: {
      id: eventId as string,
      aggregateType: text('aggregate_type') as string,
      aggregateId: text('aggregate_id') as string,
      eventType: text('event_type') as string,
      payload: stringifyKeepingNumbers(fields.payload),
      headers,
      createdAtMicros,
      position,
    },
  };
}

/**
 * A message with the relay's prefix written outside a transaction (transactional = false): it
 * was written even if its transaction rolled back, so it is not relayed as an event.
 */
export function nonTransactionalMessage(message: LogicalMessage, position: EventPosition): BadRow {
  return {
    reason: 'non-transactional-message',
    detail:
      'written with pg_logical_emit_message(false, …): Postgres keeps such a message even when ' +
      'its transaction rolls back, so it is not relayed; write events with transactional = true',
    row: { prefix: message.prefix, content: message.content },
    eventId: null,
    position,
  };
}

function bad(
  row: Record<string, string>,
  eventId: string | null,
  position: EventPosition,
  reason: BadRow['reason'],
  detail: string,
): RowResult {
  return { ok: false, bad: { reason, detail, row, eventId, position } };
}
