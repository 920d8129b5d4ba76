/** Named SQL for the ordinary (non-replication) connection. Identifiers are always quoted. */
import pg from 'pg';

export const quoteIdent = (name: string): string => pg.Client.prototype.escapeIdentifier(name);
export const quoteLiteral = (text: string): string => pg.Client.prototype.escapeLiteral(text);

export const SQL = {
  /**
   * invalidation_reason (17+) and conflicting (16+) are read through to_jsonb, which yields NULL
   * for a column the server lacks: one query for PostgreSQL 14 to 18.
   */
  slotInfo: `SELECT plugin, slot_type, database, active, active_pid,
                    confirmed_flush_lsn::text AS confirmed_flush_lsn,
                    restart_lsn::text AS restart_lsn, wal_status,
                    to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason,
                    (to_jsonb(s) ->> 'conflicting')::boolean AS conflicting
               FROM pg_replication_slots s WHERE slot_name = $1`,
  createSlot: `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
  /** 17+: (slot_name, plugin, temporary, twophase, failover): a standby with sync_replication_slots keeps a copy. */
  createFailoverSlot: `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)`,
  serverVersionNum: `SELECT current_setting('server_version_num')::int AS version`,
  publicationTables: `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`,
  publicationExists: `SELECT pubinsert FROM pg_publication WHERE pubname = $1`,
  walLevel: `SELECT current_setting('wal_level') AS wal_level`,
  /** $1 is a quoted schema.table; NULL when there is no such table. */
  tableOid: `SELECT to_regclass($1)::oid AS oid`,
  currentWalLsn: `SELECT pg_current_wal_lsn()::text AS lsn`,
} as const;
