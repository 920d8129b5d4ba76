/**
 * What the benchmark writes: outbox rows with ~300-byte order payloads and a traceparent header,
 * over three aggregate types (so three topics) and 10,000 keys per type.
 */
import type pg from 'pg';
import type { OutboxNames } from '../../test/support/fixtures.ts';
import { quoteIdent } from '../../src/db/sql.ts';
import { parseLsn, type Lsn } from '../../src/domain/lsn.ts';

export const AGGREGATE_TYPES = ['order', 'customer', 'invoice'] as const;

/** The columns of row number `n` (an SQL integer expression), after the id. */
function rowColumns(n: string): string {
  const type = `(ARRAY['order', 'customer', 'invoice'])[1 + ${n} % 3]`;
  const line = (prime: number, price: string) =>
    `jsonb_build_object('sku', 'SKU-' || lpad((${n} % ${prime})::text, 5, '0'), ` +
    `'qty', 1 + ${n} % 4, 'price', '${price}')`;
  const payload =
    `jsonb_build_object('orderId', 'o-' || ${n}, 'customerId', 'c-' || (${n} % 7919), ` +
    `'status', 'PLACED', 'lines', jsonb_build_array(${line(997, '19.90')}, ${line(991, '4.25')}), ` +
    `'total', '44.05', 'currency', 'EUR', 'shipTo', jsonb_build_object('street', ` +
    `'Hauptstrasse ' || (1 + ${n} % 200), 'city', 'Berlin', 'postcode', '10115', ` +
    `'country', 'DE'), 'ref', md5(${n}::text))`;
  const traceparent = `'00-' || md5(${n}::text) || '-' || left(md5((${n} + 1)::text), 16) || '-01'`;
  return [
    type,
    `${type} || '-' || (${n} % 10000)`,
    `${type} || '.updated'`,
    payload,
    `jsonb_build_object('traceparent', ${traceparent})`,
  ].join(', ');
}

function tableOf(names: OutboxNames): string {
  return `${quoteIdent(names.schema)}.${quoteIdent(names.table)}`;
}

const COLUMNS = '(id, aggregate_type, aggregate_id, event_type, payload, headers)';

/**
 * `events` rows in transactions of `perTransaction` rows, committed one by one inside a single
 * server-side loop: the WAL holds exactly what as many client transactions would write, without
 * 50,000 round trips that would make the setup slower than the measurement.
 */
export function backlogSql(names: OutboxNames, events: number, perTransaction: number): string {
  const transactions = Math.ceil(events / perTransaction);
  const first = `t * ${perTransaction} + 1`;
  const last = `least(t * ${perTransaction} + ${perTransaction}, ${events})`;
  return `DO $bench$
BEGIN
  FOR t IN 0..${transactions - 1} LOOP
    INSERT INTO ${tableOf(names)} ${COLUMNS}
    SELECT gen_random_uuid(), ${rowColumns('n')} FROM generate_series(${first}, ${last}) AS n;
    COMMIT;
  END LOOP;
END
$bench$`;
}

/** One row with a chosen id ($1) and row number ($2), for a single-statement transaction. */
export function singleRowSql(names: OutboxNames): string {
  return (
    `INSERT INTO ${tableOf(names)} ${COLUMNS} ` +
    `SELECT $1::uuid, ${rowColumns('n')} FROM (VALUES ($2::int)) AS v(n)`
  );
}

export interface Backlog {
  writeSeconds: number;
  /** The WAL insert position right after the last commit: the relay is done when its slot is here. */
  targetLsn: Lsn;
}

export async function writeBacklog(
  db: pg.ClientBase,
  names: OutboxNames,
  events: number,
  perTransaction: number,
): Promise<Backlog> {
  const t0 = performance.now();
  await db.query(backlogSql(names, events, perTransaction));
  const writeSeconds = (performance.now() - t0) / 1000;
  const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn() AS lsn');
  return { writeSeconds, targetLsn: parseLsn(rows[0]?.lsn ?? '0/0') };
}

/** Mean payload size in bytes as Postgres prints it (jsonb text), over what was written. */
export async function meanPayloadBytes(db: pg.ClientBase, names: OutboxNames): Promise<number> {
  const { rows } = await db.query<{ bytes: string | null }>(
    `SELECT avg(length(payload::text)) AS bytes FROM ${tableOf(names)}`,
  );
  return Math.round(Number(rows[0]?.bytes ?? 0));
}

export async function dropTable(db: pg.ClientBase, names: OutboxNames): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS ${tableOf(names)}`);
}
