/**
 * A writer that keeps going through Postgres restarts, as an application with a retry would: a
 * transaction whose COMMIT got no answer is looked up once the database is back, and written
 * again only if it is not in the table. So every planned event is in the outbox exactly once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { quoteIdent } from '../../src/db/sql.ts';
import { insertEvents, type OutboxNames, type TestEvent } from './fixtures.ts';

export interface WriterOptions {
  /** Paces the writer so that faults land while it writes. */
  eventsPerSecond: number;
  /** Stops early (the rest is not written) when aborted. */
  signal?: AbortSignal;
}

export interface WriterReport {
  written: number;
  /** Transactions whose COMMIT failed or got no answer. */
  interrupted: number;
  /** Of those, the ones found committed after all. */
  committedAnyway: number;
}

export async function writeThroughRestarts(
  pool: pg.Pool,
  names: OutboxNames,
  transactions: readonly TestEvent[][],
  options: WriterOptions,
): Promise<WriterReport> {
  const table = `${quoteIdent(names.schema)}.${quoteIdent(names.table)}`;
  const report: WriterReport = { written: 0, interrupted: 0, committedAnyway: 0 };
  const started = Date.now();
  for (const tx of transactions) {
    if (options.signal?.aborted) break;
    while (!(await writeOnce(pool, table, tx))) {
      report.interrupted++;
      if (await isCommitted(pool, table, tx)) {
        report.committedAnyway++;
        break;
      }
    }
    report.written += tx.length;
    const due = started + (report.written / options.eventsPerSecond) * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  return report;
}

async function writeOnce(pool: pg.Pool, table: string, tx: readonly TestEvent[]): Promise<boolean> {
  let client: pg.PoolClient | undefined;
  try {
    client = await pool.connect();
    // A restart also reaches a checked-out client as an 'error' event; the query fails anyway.
    client.on('error', ignore);
    // A commit the test counts as written must survive an immediate-mode restart.
    await client.query('SET synchronous_commit = on');
    await client.query('BEGIN');
    await insertEvents(client, table, tx);
    await client.query('COMMIT');
    client.off('error', ignore);
    client.release();
    return true;
  } catch (error) {
    client?.release(error instanceof Error ? error : true);
    return false;
  }
}

/** Waits for the database to answer, then says whether the transaction's first row is there. */
async function isCommitted(
  pool: pg.Pool,
  table: string,
  tx: readonly TestEvent[],
): Promise<boolean> {
  for (;;) {
    try {
      const { rows } = await pool.query(`SELECT 1 FROM ${table} WHERE id = $1::uuid`, [tx[0]?.id]);
      return rows.length > 0;
    } catch {
      await sleep(200);
    }
  }
  throw new Error('the database did not answer for 120 s');
}

function ignore(): void {}
