/**
 * node scripts/with-services.ts -- node scripts/commit-order.ts
 *
 * How far commit timestamps, and so `replay`'s commit order, are from the WAL's commit order:
 * COMMIT_ORDER_CLIENTS clients (default 8) each commit COMMIT_ORDER_PER_CLIENT (default 5000)
 * one-row transactions on one aggregate, as fast as they can; with COMMIT_ORDER_LOCK=1 each
 * transaction first takes a lock on the aggregate (pg_advisory_xact_lock), as writers that keep
 * an aggregate consistent do. The WAL order is read from a test_decoding slot. Prints one JSON
 * line: ties and reversals of consecutive commits' timestamps, and the rows that replay's order
 * puts before a row committed earlier in the WAL. Asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadMigrations, migrate } from '../src/db/migrator.ts';
import { commitOrderQuery } from '../src/db/outbox-reader.ts';
import { MIGRATIONS_DIR } from '../src/db/paths.ts';

const pgUrl = process.env.RELAY_TEST_PG_URL ?? '';
const clients = Number(process.env.COMMIT_ORDER_CLIENTS ?? 8);
const perClient = Number(process.env.COMMIT_ORDER_PER_CLIENT ?? 5000);
const lock = process.env.COMMIT_ORDER_LOCK === '1';

const id = randomUUID().slice(0, 8);
const target = { schema: 'public', table: `outbox_order_${id}`, publication: `pub_order_${id}` };
const table = `public.${target.table}`;
const slot = `order_${id}`;

async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  await client.query('SET synchronous_commit = on');
  return client;
}

async function write(client: pg.Client): Promise<void> {
  for (let i = 0; i < perClient; i++) {
    if (lock) await client.query('BEGIN; SELECT pg_advisory_xact_lock(42)');
    await client.query(
      `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload)
       VALUES (gen_random_uuid(), 'order', 'one', 'order.changed', '{}')`,
    );
    if (lock) await client.query('COMMIT');
  }
}

/** The table's transactions in the order of their commit records. */
async function walOrder(db: pg.Client, ours: ReadonlySet<string>): Promise<string[]> {
  const { rows } = await db.query<{ data: string }>(
    `SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'include-xids', '1')`,
    [slot],
  );
  const xids = rows.map((r) => /^COMMIT (\d+)$/.exec(r.data)?.[1]);
  return xids.filter((x): x is string => x !== undefined && ours.has(x));
}

async function measure(db: pg.Client) {
  const { rows } = await db.query<{ xid: string; us: string }>(
    `SELECT tx_id::text AS xid,
            (extract(epoch FROM pg_xact_commit_timestamp(xid(tx_id))) * 1e6)::bigint::text AS us
       FROM ${table}`,
  );
  const commitTime = new Map(rows.map((r) => [r.xid, BigInt(r.us)]));
  const wal = await walOrder(db, new Set(commitTime.keys()));
  let ties = 0;
  let reversals = 0;
  for (let i = 1; i < wal.length; i++) {
    const [before, after] = [commitTime.get(wal[i - 1]!)!, commitTime.get(wal[i]!)!];
    if (after === before) ties++;
    else if (after < before) reversals++;
  }
  const query = commitOrderQuery(target, {});
  const replayed = await db.query<{ xid: string }>({
    text: query.text.replace(/^SELECT /, 'SELECT o.tx_id::text AS xid, '),
    values: query.values ?? [],
  });
  const walPosition = new Map(wal.map((xid, i) => [xid, i]));
  let reordered = 0;
  let latest = -1;
  for (const { xid } of replayed.rows) {
    const position = walPosition.get(xid) ?? -1;
    if (position < latest) reordered++;
    else latest = position;
  }
  return { commits: wal.length, ties, reversals, replayReordered: reordered };
}

async function main(): Promise<void> {
  const db = await connect();
  try {
    await migrate(db, await loadMigrations(MIGRATIONS_DIR, target), target);
    await db.query(`SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, [slot]);
    const writers = await Promise.all(Array.from({ length: clients }, connect));
    const started = performance.now();
    await Promise.all(writers.map(write));
    const seconds = Math.round(performance.now() - started) / 1000;
    await Promise.all(writers.map((w) => w.end()));
    const result = { clients, lock, seconds, ...(await measure(db)) };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await db.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
    await db.query(`DROP TABLE IF EXISTS ${table}, ${table}_relay_migrations`);
    await db.query(`DROP PUBLICATION IF EXISTS ${target.publication}`);
    await db.end();
  }
}

await main();
