/**
 * The outbox table's columns, shared by the replication path (decode/outbox-row.ts checks a
 * pgoutput row against them) and the SQL path (db/outbox-reader.ts selects them for `replay`).
 */

/** The outbox table's columns, as the migrations create them. */
export const OUTBOX_COLUMNS = [
  'id',
  'aggregate_type',
  'aggregate_id',
  'event_type',
  'payload',
  'headers',
  'created_at',
] as const;
export type OutboxColumn = (typeof OUTBOX_COLUMNS)[number];
