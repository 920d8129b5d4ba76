/**
 * A dead letter carries the original row and says why it could not be an event. It travels
 * through the same publisher, in order, and counts toward its transaction's acknowledgement: a
 * bad row is never dropped and never blocks the good events behind it.
 */
import type { BadRow } from '../decode/outbox-row.ts';
import { formatLsn } from '../domain/lsn.ts';

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
