/**
 * Glossary
 *
 * - outbox row: one row a service inserted into the outbox table, in the same database
 *   transaction as its business change.
 * - event: an outbox row as the relay carries it (OutboxEvent), decoded from the WAL.
 * - relation: pgoutput's description of a table (its id, schema, name and columns); rows refer to
 *   their relation by id.
 * - transaction: the events of one database transaction, in commit order. Logical decoding sends
 *   only committed transactions, in commit order, BEGIN..COMMIT contiguous.
 * - commit LSN / commit end LSN: where the transaction's commit record starts / ends in the WAL.
 *   The end LSN is what we report as flushed once the whole transaction is in Kafka.
 * - confirmed flush LSN: what the slot has been told is durable downstream. Postgres may recycle
 *   WAL before it and will never send a transaction that committed before it again.
 * - slot: the logical replication slot (pgoutput) that remembers our position.
 * - publication: the set of tables (here, the outbox alone, inserts only) the slot decodes.
 * - topic: the Kafka topic an event goes to, from the topic template and its aggregate type.
 * - key: the Kafka record key, the aggregate id (or RELAY_KEY_COLUMN's column), so one
 *   aggregate's events share a partition and stay in commit order.
 */
import type { Lsn } from './lsn.ts';

/** Identifies where an event sits in the WAL stream; used for acknowledgement and dead letters. */
export interface EventPosition {
  /** The commit LSN of the transaction that wrote the row. */
  readonly commitLsn: Lsn;
  /** The transaction's sequence number in this replication session, from 1, in commit order. */
  readonly txSeq: number;
  /** Index of the event within its transaction, from 0. */
  readonly index: number;
}

export interface OutboxEvent {
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly eventType: string;
  /** The payload column as JSON text, exactly as Postgres rendered it. */
  readonly payload: string;
  /** The headers column, parsed: string values only (non-strings are JSON-stringified). */
  readonly headers: Readonly<Record<string, string>>;
  /** created_at, in microseconds since the Unix epoch (Postgres keeps microseconds). */
  readonly createdAtMicros: bigint;
  readonly position: EventPosition;
  /** The Kafka key when RELAY_KEY_COLUMN names a column other than the aggregate id's. */
  readonly key?: string;
  /** Columns placed as Kafka headers (RELAY_ADDITIONAL_COLUMNS), by header name. */
  readonly extraHeaders?: Readonly<Record<string, string>>;
  /** Columns placed as envelope fields (RELAY_ADDITIONAL_COLUMNS), by field name; null: NULL. */
  readonly envelopeFields?: Readonly<Record<string, string | null>>;
}
