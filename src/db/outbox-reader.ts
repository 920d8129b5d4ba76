/**
 * Reads rows that are still in the outbox table, for `replay`, with plain SELECTs on an ordinary
 * connection: never the WAL, the slot or the publication, so it can run beside a live relay.
 *
 * Keyset pagination on (created_at, id): each page is one short statement with its own snapshot,
 * so no lock beyond a plain SELECT's and no snapshot is held between pages (vacuum is not held
 * back however long a replay takes). Rows committed meanwhile inside the selection, ahead of the
 * cursor, are read too.
 */
import pg from 'pg';
import { OUTBOX_COLUMNS } from '../decode/outbox-row.ts';
import { RelayError } from '../domain/errors.ts';
import { quoteIdent } from './sql.ts';

/** Which rows to read. Every field given narrows the selection: they combine with AND. */
export interface OutboxSelection {
  /** created_at at or after this time: any timestamptz input; without an offset, UTC. */
  readonly from?: string | undefined;
  /** created_at before this time (so consecutive windows do not overlap). */
  readonly to?: string | undefined;
  /** id at or above this one (inclusive; the column's order, bytewise for uuid). */
  readonly idFrom?: string | undefined;
  /** id at or below this one (inclusive). */
  readonly idTo?: string | undefined;
  readonly ids?: readonly string[] | undefined;
  readonly aggregateType?: string | undefined;
  readonly aggregateId?: string | undefined;
  readonly eventType?: string | undefined;
}

export type SelectorName = keyof OutboxSelection;

/** An outbox row as the text Postgres prints for each column, as the replication stream has it. */
export type OutboxTextRow = Readonly<Record<(typeof OUTBOX_COLUMNS)[number], string | null>> & {
  readonly id: string;
  readonly created_at: string;
};

export interface OutboxTable {
  readonly schema: string;
  readonly table: string;
}

// The replication connection's settings: created_at then prints as rowToEvent parses it, and a
// printed created_at read back as a cursor is the same instant to the microsecond. Read-only,
// because nothing here has any business writing.
const READER_SESSION = '-c timezone=UTC -c datestyle=ISO,YMD -c default_transaction_read_only=on';

/** The condition each selector adds; `$` is its parameter. */
const CONDITIONS: Readonly<Record<SelectorName, (param: string) => string>> = {
  from: (p) => `o.created_at >= ${p}`,
  to: (p) => `o.created_at < ${p}`,
  idFrom: (p) => `o.id >= ${p}`,
  idTo: (p) => `o.id <= ${p}`,
  ids: (p) => `o.id = ANY(${p})`,
  aggregateType: (p) => `o.aggregate_type = ${p}`,
  aggregateId: (p) => `o.aggregate_id = ${p}`,
  eventType: (p) => `o.event_type = ${p}`,
};

export const SELECTOR_NAMES = Object.keys(CONDITIONS) as SelectorName[];

/** Where the previous page ended. */
interface Cursor {
  readonly createdAt: string;
  readonly id: string;
}

export async function connectReader(pgUrl: string, applicationName: string): Promise<pg.Client> {
  const db = new pg.Client({
    connectionString: pgUrl,
    application_name: applicationName,
    options: READER_SESSION,
  });
  // A connection lost while idle surfaces as the next query's error, with its message.
  db.on('error', () => undefined);
  try {
    await db.connect();
  } catch (error) {
    throw new RelayError('PG_CONNECT', `cannot connect to PostgreSQL: ${messageOf(error)}`, {
      cause: error,
      retriable: true,
      hint: 'Check RELAY_PG_URL: host, port, database, user and password.',
    });
  }
  return db;
}

/** The selected rows in (created_at, id) order, a page at a time. */
export async function* readOutbox(
  db: pg.ClientBase,
  table: OutboxTable,
  selection: OutboxSelection,
  pageSize: number,
): AsyncGenerator<OutboxTextRow[]> {
  let after: Cursor | null = null;
  for (;;) {
    const rows = await queryPage(db, table, pageQuery(table, selection, after, pageSize));
    if (rows.length > 0) yield rows;
    const last = rows[rows.length - 1];
    if (!last || rows.length < pageSize) return;
    after = { createdAt: last.created_at, id: last.id };
  }
}

/** One page's statement; the table is aliased so that WHERE and ORDER BY see its columns, not the text. */
export function pageQuery(
  table: OutboxTable,
  selection: OutboxSelection,
  after: Cursor | null,
  limit: number,
): pg.QueryConfig {
  const values: unknown[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  const conditions = SELECTOR_NAMES.filter((name) => selection[name] !== undefined).map((name) =>
    CONDITIONS[name](param(selection[name])),
  );
  if (after) {
    // The row comparison lets the created_at index bound the scan.
    conditions.push(`(o.created_at, o.id) > (${param(after.createdAt)}, ${param(after.id)})`);
  }
  const columns = OUTBOX_COLUMNS.map((c) => `o.${quoteIdent(c)}::text AS ${quoteIdent(c)}`);
  const text = [
    `SELECT ${columns.join(', ')}`,
    `FROM ${quoteIdent(table.schema)}.${quoteIdent(table.table)} AS o`,
    conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '',
    `ORDER BY o.created_at, o.id LIMIT ${param(limit)}`,
  ];
  return { text: text.filter(Boolean).join('\n'), values };
}

async function queryPage(
  db: pg.ClientBase,
  table: OutboxTable,
  query: pg.QueryConfig,
): Promise<OutboxTextRow[]> {
  try {
    return (await db.query<OutboxTextRow>(query)).rows;
  } catch (error) {
    throw readError(error, `${table.schema}.${table.table}`);
  }
}

function readError(error: unknown, table: string): RelayError {
  const code = (error as { code?: unknown }).code;
  const message = messageOf(error);
  if (typeof code === 'string' && code.startsWith('22')) {
    // A data exception: Postgres could not read a selector's value as a time or an id.
    return new RelayError('CONFIG_INVALID', `a selector's value is not valid: ${message}`, {
      cause: error,
      hint: '--from and --to take times such as 2026-05-01T12:00:00Z; --id-from, --id-to and --ids take event ids.',
    });
  }
  return new RelayError('PG_CONNECT', `cannot read the outbox table ${table}: ${message}`, {
    cause: error,
    retriable: true,
    hint: READ_HINTS[String(code)] ?? 'Check that PostgreSQL (RELAY_PG_URL) is up and reachable.',
  });
}

const READ_HINTS: Readonly<Record<string, string>> = {
  '42P01':
    'Check RELAY_OUTBOX_SCHEMA and RELAY_OUTBOX_TABLE (--table), or run "outbox-relay migrate".',
  '3F000': 'Check RELAY_OUTBOX_SCHEMA, or run "outbox-relay migrate".',
  '42703': `The table must have the outbox columns (${OUTBOX_COLUMNS.join(', ')}): check RELAY_OUTBOX_TABLE.`,
  '42501': 'Grant the role in RELAY_PG_URL SELECT on the outbox table.',
};

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
