/**
 * Named SQL for the ordinary (non-replication) connection; slot queries are in slots.ts.
 * Identifiers are always quoted.
 */
import pg from 'pg';

export const quoteIdent = (name: string): string => pg.Client.prototype.escapeIdentifier(name);
export const quoteLiteral = (text: string): string => pg.Client.prototype.escapeLiteral(text);

export const SQL = {
  serverVersionNum: `SELECT current_setting('server_version_num')::int AS version`,
  publicationTables: `SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1`,
  publicationExists: `SELECT pubinsert FROM pg_publication WHERE pubname = $1`,
  walLevel: `SELECT current_setting('wal_level') AS wal_level`,
  /** $1 is a quoted schema.table; NULL when there is no such table. */
  tableOid: `SELECT to_regclass($1)::oid AS oid`,
  /** $1 is a quoted schema.table: its live columns (none when there is no such table). */
  tableColumns: `SELECT attname FROM pg_attribute
                  WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
  currentWalLsn: `SELECT pg_current_wal_lsn()::text AS lsn`,
} as const;
