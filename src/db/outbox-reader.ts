/**
 * Reads rows that are still in the outbox table, for `replay`, with plain SELECTs on an ordinary
 * connection: never the WAL, the slot or the publication, so it can run beside a live relay.
 *
 * Two orders (ReplayOrder):
 *
 * - "commit": the order the transactions committed in, as far as PostgreSQL can tell: by the
 *   commit time of the writing transaction (pg_xact_commit_timestamp of tx_id, which needs
 *   track_commit_timestamp = on), then tx_id, then tx_seq (the row's place in its transaction).
 *   Rows that have no tx_id (written before migration 0003) come first, in (created_at, id)
 *   order; then rows whose commit time is unknown (committed while track_commit_timestamp was
 *   off, or so long ago that PostgreSQL has discarded it), in (tx_id, tx_seq) order. Both
 *   groups committed before the next one began (0003's ALTER TABLE waits for open writers, and
 *   turning the setting on needs a restart), so only their inner order is approximate. No index
 *   can serve this order, so the whole selection is sorted once, into a WITH HOLD cursor: the
 *   snapshot is held only while that sort runs, and rows committed after it are not read.
 * - "created-at": (created_at, id), read by keyset pagination on the created_at index: each page
 *   is one short statement with its own snapshot, so none is held between pages. created_at is
 *   the transaction's start, so overlapping transactions may come out of commit order. Rows
 *   committed meanwhile inside the selection, ahead of the cursor, are read too.
 */
import {
  createDbClient,
  type Db,
  type DbClient,
  type QueryConfig,
  type QueryResultRow,
} from './client.ts';
import { errorMessage, RelayError } from '../domain/errors.ts';
import { OUTBOX_COLUMNS } from '../domain/outbox-columns.ts';
import { mappedColumns, RELAY_MAPPING, type OutboxMapping } from '../config/outbox-mapping.ts';
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

/**
 * An outbox row as the text Postgres prints for each column, as the replication stream has it,
 * by column name (the mapping's names: RELAY_OUTBOX_LAYOUT, RELAY_COLUMN_*).
 */
export type OutboxTextRow = Readonly<Record<string, string | null>>;

export interface OutboxTable {
  readonly schema: string;
  readonly table: string;
  /** Which column holds what; the relay's own table when absent. */
  readonly mapping?: OutboxMapping | undefined;
  /**
   * The mapped columns the table has, in select order (see `tableColumns`); absent: every
   * mapped column.
   */
  readonly columns?: readonly string[] | undefined;
}

/** The names of the columns a read needs, for `table`'s mapping. */
function names(table: OutboxTable) {
  const mapping = table.mapping ?? RELAY_MAPPING;
  const columns = table.columns ?? mappedColumns(mapping).map((c) => c.column);
  const createdAt = mapping.columns.createdAt;
  return {
    ...mapping.columns,
    createdAt: createdAt !== null && columns.includes(createdAt) ? createdAt : null,
    columns,
  };
}

/** The live column names of the table (empty when there is no such table). */
export async function tableColumns(db: Db, table: OutboxTable): Promise<Set<string>> {
  const rows = await queryPage<{ attname: string }>(db, table, {
    text: `SELECT attname FROM pg_attribute
            WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`,
    values: [qualifiedName(table)],
  });
  return new Set(rows.map((r) => r.attname));
}

// The replication connection's settings: created_at then prints as rowToEvent parses it, and a
// printed created_at read back as a cursor is the same instant to the microsecond. Read-only,
// because nothing here has any business writing.
const READER_SESSION = '-c timezone=UTC -c datestyle=ISO,YMD -c default_transaction_read_only=on';

type Names = ReturnType<typeof names>;

const col = (name: string) => `o.${quoteIdent(name)}`;

/** The condition each selector adds; `$` is its parameter. */
function conditionsFor(n: Names): Readonly<Record<SelectorName, (param: string) => string>> {
  const createdAt = () => {
    if (n.createdAt !== null) return col(n.createdAt);
    throw new RelayError('CONFIG_INVALID', '--from and --to need a timestamp column', {
      hint: 'The mapping has no timestamp column (RELAY_COLUMN_CREATED_AT): select by --ids, --id-from/--id-to or aggregate instead.',
    });
  };
  return {
    from: (p) => `${createdAt()} >= ${p}`,
    to: (p) => `${createdAt()} < ${p}`,
    idFrom: (p) => `${col(n.id)} >= ${p}`,
    idTo: (p) => `${col(n.id)} <= ${p}`,
    ids: (p) => `${col(n.id)} = ANY(${p})`,
    aggregateType: (p) => `${col(n.aggregateType)} = ${p}`,
    aggregateId: (p) => `${col(n.aggregateId)} = ${p}`,
    eventType: (p) => `${col(n.eventType)} = ${p}`,
  };
}

export const SELECTOR_NAMES: SelectorName[] = [
  'from',
  'to',
  'idFrom',
  'idTo',
  'ids',
  'aggregateType',
  'aggregateId',
  'eventType',
];

/** See the file's comment. */
export type ReplayOrder = 'commit' | 'created-at';
export const REPLAY_ORDERS: readonly ReplayOrder[] = ['commit', 'created-at'];

/** What "commit" order needs, on the server and in the table. */
export interface CommitOrderSupport {
  readonly tableFound: boolean;
  /** The table has tx_id and tx_seq (migration 0003). */
  readonly columns: boolean;
  readonly trackCommitTimestamp: boolean;
}

/** Where the previous page ended (createdAt null: the mapping has no timestamp column). */
interface Cursor {
  readonly createdAt: string | null;
  readonly id: string;
}

export async function connectReader(pgUrl: string, applicationName: string): Promise<DbClient> {
  const db = createDbClient(pgUrl, 'reader', { applicationName, sessionOptions: READER_SESSION });
  // A connection lost while idle surfaces as the next query's error, with its message.
  db.on('error', () => undefined);
  try {
    await db.connect();
  } catch (error) {
    throw new RelayError('PG_CONNECT', `cannot connect to PostgreSQL: ${errorMessage(error)}`, {
      cause: error,
      retriable: true,
      hint: 'Check RELAY_PG_URL: host, port, database, user and password.',
    });
  }
  return db;
}

const SUPPORT_SQL = `SELECT to_regclass($1) IS NOT NULL AS table_found,
         current_setting('track_commit_timestamp')::bool AS track_commit_timestamp,
         (SELECT count(*) FROM pg_attribute
           WHERE attrelid = to_regclass($1) AND attname IN ('tx_id', 'tx_seq')
             AND NOT attisdropped) = 2 AS columns`;

export async function commitOrderSupport(db: Db, table: OutboxTable): Promise<CommitOrderSupport> {
  const [row] = await queryPage<{
    table_found: boolean;
    track_commit_timestamp: boolean;
    columns: boolean;
  }>(db, table, { text: SUPPORT_SQL, values: [qualifiedName(table)] });
  return {
    tableFound: row?.table_found === true,
    columns: row?.columns === true,
    trackCommitTimestamp: row?.track_commit_timestamp === true,
  };
}

/** How many aggregates have more than one event in the selection: those whose order matters. */
export async function aggregatesWithSeveralEvents(
  db: Db,
  table: OutboxTable,
  selection: OutboxSelection,
): Promise<number> {
  const n = names(table);
  const { values, where } = conditionsOf(n, selection);
  const text = [
    'SELECT count(*)::int AS n FROM (SELECT 1',
    `FROM ${qualifiedName(table)} AS o`,
    where,
    `GROUP BY ${col(n.aggregateType)}, ${col(n.aggregateId)} HAVING count(*) > 1) AS several`,
  ];
  const rows = await queryPage<{ n: number }>(db, table, { text: lines(text), values });
  return rows[0]?.n ?? 0;
}

/**
 * The selected rows in the given order, a page at a time. With `snapshot` (an exported
 * snapshot's name, src/db/snapshot.ts), every row is read in one transaction that imports it:
 * the rows that snapshot sees, none committed later.
 */
export function readOutbox(
  db: Db,
  table: OutboxTable,
  selection: OutboxSelection,
  pageSize: number,
  order: ReplayOrder = 'created-at',
  snapshot?: string,
): AsyncGenerator<OutboxTextRow[]> {
  if (order === 'commit') return readInCommitOrder(db, table, selection, pageSize, snapshot);
  const pages = readInCreatedAtOrder(db, table, selection, pageSize);
  return snapshot === undefined ? pages : inSnapshot(db, table, snapshot, pages);
}

/** BEGIN, importing `snapshot` when given (it must be the transaction's first statement). */
export function beginStatements(snapshot?: string): string[] {
  if (snapshot === undefined) return ['BEGIN'];
  if (!/^[0-9A-Fa-f-]+$/.test(snapshot)) throw new Error(`not a snapshot name: ${snapshot}`);
  return ['BEGIN ISOLATION LEVEL REPEATABLE READ', `SET TRANSACTION SNAPSHOT '${snapshot}'`];
}

async function* inSnapshot(
  db: Db,
  table: OutboxTable,
  snapshot: string,
  pages: AsyncGenerator<OutboxTextRow[]>,
): AsyncGenerator<OutboxTextRow[]> {
  for (const text of beginStatements(snapshot)) await queryPage(db, table, { text });
  try {
    yield* pages;
  } finally {
    await db.query('ROLLBACK').catch(() => undefined); // read only: nothing to keep
  }
}

const CURSOR = 'outbox_relay_replay';

async function* readInCommitOrder(
  db: Db,
  table: OutboxTable,
  selection: OutboxSelection,
  pageSize: number,
  snapshot?: string,
): AsyncGenerator<OutboxTextRow[]> {
  const query = commitOrderQuery(table, selection);
  try {
    for (const text of beginStatements(snapshot)) await queryPage(db, table, { text });
    await queryPage(db, table, {
      text: `DECLARE ${CURSOR} NO SCROLL CURSOR WITH HOLD FOR ${query.text}`,
      values: query.values ?? [],
    });
    await queryPage(db, table, { text: 'COMMIT' }); // sorts, and lets the snapshot go
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  try {
    for (;;) {
      const rows = await queryPage(db, table, { text: `FETCH ${pageSize} FROM ${CURSOR}` });
      if (rows.length > 0) yield rows;
      if (rows.length < pageSize) return;
    }
  } finally {
    await db.query(`CLOSE ${CURSOR}`).catch(() => undefined);
  }
}

/**
 * The whole selection in commit order (see the file's comment). The group keys are booleans:
 * false sorts first, so rows without tx_id, then rows without a commit time, then the rest.
 */
export function commitOrderQuery(table: OutboxTable, selection: OutboxSelection): QueryConfig {
  const n = names(table);
  const { values, where } = conditionsOf(n, selection);
  const text = [
    `SELECT ${selectList(n)}`,
    `FROM ${qualifiedName(table)} AS o`,
    // STRICT: NULL for a NULL tx_id, without asking the commit-timestamp module.
    'CROSS JOIN LATERAL (SELECT pg_xact_commit_timestamp(xid(o.tx_id)) AS at) AS committed',
    where,
    'ORDER BY o.tx_id IS NOT NULL, committed.at IS NOT NULL, committed.at, o.tx_id, o.tx_seq,',
    `  ${orderKey(n)}`,
  ];
  return { text: lines(text), values };
}

async function* readInCreatedAtOrder(
  db: Db,
  table: OutboxTable,
  selection: OutboxSelection,
  pageSize: number,
): AsyncGenerator<OutboxTextRow[]> {
  const n = names(table);
  let after: Cursor | null = null;
  for (;;) {
    const rows: OutboxTextRow[] = await queryPage(
      db,
      table,
      pageQuery(table, selection, after, pageSize),
    );
    if (rows.length > 0) yield rows;
    const last = rows[rows.length - 1];
    if (!last || rows.length < pageSize) return;
    after = {
      createdAt: n.createdAt === null ? null : (last[n.createdAt] ?? null),
      id: last[n.id] ?? '',
    };
  }
}

/** One page's statement; the table is aliased so that WHERE and ORDER BY see its columns, not the text. */
export function pageQuery(
  table: OutboxTable,
  selection: OutboxSelection,
  after: Cursor | null,
  limit: number,
): QueryConfig {
  const n = names(table);
  const extra = after
    ? // The row comparison lets the created_at index bound the scan.
      [
        (p: Param) =>
          n.createdAt === null
            ? `${col(n.id)} > ${p(after.id)}`
            : `(${orderKey(n)}) > (${p(after.createdAt)}, ${p(after.id)})`,
      ]
    : [];
  const { values, where, param } = conditionsOf(n, selection, extra);
  const text = [
    `SELECT ${selectList(n)}`,
    `FROM ${qualifiedName(table)} AS o`,
    where,
    `ORDER BY ${orderKey(n)} LIMIT ${param(limit)}`,
  ];
  return { text: lines(text), values };
}

type Param = (value: unknown) => string;

/** The WHERE clause of the selection (and any extra conditions), with its parameters. */
function conditionsOf(
  n: Names,
  selection: OutboxSelection,
  extra: ((param: Param) => string)[] = [],
) {
  const values: unknown[] = [];
  const param: Param = (value) => `$${values.push(value)}`;
  const condition = conditionsFor(n);
  const conditions = SELECTOR_NAMES.filter((name) => selection[name] !== undefined).map((name) =>
    condition[name](param(selection[name])),
  );
  conditions.push(...extra.map((condition) => condition(param)));
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  return { values, where, param };
}

function selectList(n: Names): string {
  return n.columns.map((c) => `${col(c)}::text AS ${quoteIdent(c)}`).join(', ');
}

/** (created_at, id) order, or id order for a table without a timestamp column. */
function orderKey(n: Names): string {
  return n.createdAt === null ? col(n.id) : `${col(n.createdAt)}, ${col(n.id)}`;
}

function qualifiedName(table: OutboxTable): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.table)}`;
}

function lines(text: readonly string[]): string {
  return text.filter(Boolean).join('\n');
}

async function queryPage<R extends object = OutboxTextRow>(
  db: Db,
  table: OutboxTable,
  query: QueryConfig,
): Promise<R[]> {
  try {
    return (await db.query<R & QueryResultRow>(query)).rows;
  } catch (error) {
    throw readError(error, `${table.schema}.${table.table}`);
  }
}

function readError(error: unknown, table: string): RelayError {
  const code = (error as { code?: unknown }).code;
  const message = errorMessage(error);
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
  '42703': `The table must have the mapped outbox columns (by default ${OUTBOX_COLUMNS.join(', ')}): check RELAY_OUTBOX_TABLE, RELAY_OUTBOX_LAYOUT and RELAY_COLUMN_*.`,
  '42501': 'Grant the role in RELAY_PG_URL SELECT on the outbox table.',
};
