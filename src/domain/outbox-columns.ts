/**
 * The columns of the relay's own outbox table (RELAY_OUTBOX_LAYOUT=relay). Other layouts map
 * their columns to these roles in config/outbox-mapping.ts, which both the replication path and
 * `replay` read through.
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
