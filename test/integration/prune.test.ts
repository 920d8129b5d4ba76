import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { quoteIdent } from '../../src/db/sql.ts';
import {
  dropOutbox,
  prepareOutbox,
  services,
  uniqueNames,
  type OutboxNames,
} from '../support/fixtures.ts';
import { relayEnv, runCli, spawnRelay, type RelayChild } from '../support/relay.ts';
import { stopRelay } from '../support/scenario.ts';

interface PruneJson {
  dryRun: boolean;
  retention: string;
  confirmed: boolean;
  deleted: number;
  batches: number;
  wouldDelete: number;
  kept: number;
  watermarkLsn: string;
  confirmedFlushLsn: string;
}

const streamed = uniqueNames('prune');
let pool: pg.Pool;
let relay: RelayChild;

before(async () => {
  const { pgUrl, kafkaBrokers } = await services();
  pool = new pg.Pool({ connectionString: pgUrl, max: 3 });
  await prepareOutbox(pgUrl, streamed);
  relay = spawnRelay(relayEnv(pgUrl, kafkaBrokers, streamed));
  await relay.waitForLog('streaming');
});

after(async () => {
  await stopRelay(relay);
  await dropOutbox((await services()).pgUrl, streamed);
  await pool.end();
});

/** `outbox-relay prune --json` on the given outbox; exit code and the parsed report. */
async function prune(names: OutboxNames, args: string[], extra: Record<string, string> = {}) {
  const { pgUrl } = await services();
  const result = await runCli(['prune', '--json', ...args], {
    RELAY_PG_URL: pgUrl,
    RELAY_OUTBOX_SCHEMA: names.schema,
    RELAY_OUTBOX_TABLE: names.table,
    RELAY_SLOT: names.slot,
    RELAY_RETENTION: '1d',
    RELAY_PRUNE_BATCH_SIZE: '10',
    ...extra,
  });
  assert.ok(result.stdout, `no report; exit ${result.code}; stderr: ${result.stderr}`);
  return { ...result, report: JSON.parse(result.stdout) as PruneJson };
}

/** Inserts `count` events created `age` ago (an interval), in one transaction. */
async function insertRows(
  db: pg.Pool | pg.ClientBase,
  names: OutboxNames,
  count: number,
  age: string,
) {
  await db.query(
    `INSERT INTO ${table(names)} (id, aggregate_type, aggregate_id, event_type, payload, created_at)
     SELECT gen_random_uuid(), 'order', 'agg-' || g, 'order.created', jsonb_build_object('n', g),
            now() - $2::interval
       FROM generate_series(1, $1::int) AS g`,
    [count, age],
  );
}

async function countRows(names: OutboxNames, where = 'true'): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${table(names)} WHERE ${where}`,
  );
  return Number(rows[0]?.n);
}

function table(names: OutboxNames): string {
  return `${quoteIdent(names.schema)}.${quoteIdent(names.table)}`;
}

test('a dry run counts the confirmed rows older than the retention and deletes nothing', async () => {
  await insertRows(pool, streamed, 25, '3 days');
  await insertRows(pool, streamed, 5, '1 hour');
  const { code, report } = await prune(streamed, ['--dry-run']);
  assert.equal(code, 0);
  assert.equal(report.dryRun, true);
  assert.equal(report.confirmed, true);
  assert.equal(report.retention, '1d');
  assert.equal(report.wouldDelete, 25);
  assert.equal(report.deleted, 0);
  assert.equal(report.kept, 0);
  assert.equal(await countRows(streamed), 30);
});

test('deletes, in batches, the rows older than the retention that the slot confirmed, and keeps newer ones', async () => {
  const { code, report, stderr } = await prune(streamed, ['--yes']);
  assert.equal(code, 0, stderr);
  assert.equal(report.confirmed, true);
  assert.equal(report.deleted, 25);
  assert.equal(report.batches, 3, 'batches of 10, 10 and 5');
  assert.equal(report.kept, 0);
  assert.equal(await countRows(streamed), 5);
  assert.equal(await countRows(streamed, `created_at < now() - interval '1 day'`), 0);
  const again = await prune(streamed, ['--yes']);
  assert.equal(again.code, 0);
  assert.equal(again.report.deleted, 0, 'a second run finds nothing due');
});

test('keeps old rows committed after a transaction that is still open, and deletes them once it ends', async () => {
  const open = await pool.connect();
  try {
    await open.query('BEGIN');
    await open.query('SELECT pg_current_xact_id()');
    await insertRows(pool, streamed, 4, '3 days');
    const held = await prune(streamed, ['--yes']);
    assert.equal(held.code, 0, held.stderr);
    assert.equal(held.report.deleted, 0, 'an older transaction in progress holds them back');
    assert.equal(held.report.kept, 4);
    await open.query('COMMIT');
  } finally {
    open.release();
  }
  const { code, report } = await prune(streamed, ['--yes']);
  assert.equal(code, 0);
  assert.equal(report.deleted, 4);
  assert.equal(report.kept, 0);
});

test('keeps rows the slot has not confirmed: with no relay streaming, nothing is deleted and prune exits 4', async () => {
  const { pgUrl } = await services();
  const idle = uniqueNames('prune_idle');
  await prepareOutbox(pgUrl, idle);
  try {
    await insertRows(pool, idle, 6, '3 days');
    for (const mode of ['--yes', '--dry-run']) {
      const { code, report, stderr } = await prune(idle, [mode, '--wait-ms', '1500']);
      assert.equal(code, 4, stderr);
      assert.equal(report.confirmed, false);
      assert.equal(report.deleted, 0);
      assert.equal(report.wouldDelete, 0);
      assert.equal(report.kept, 6);
      assert.match(stderr, /did not confirm .* nothing deleted/);
      assert.match(stderr, /what to do: run prune while `outbox-relay run` streams/);
    }
    assert.equal(await countRows(idle), 6);
  } finally {
    await dropOutbox(pgUrl, idle);
  }
});

test('the relay prunes on its own every RELAY_PRUNE_INTERVAL_MS, never touching newer rows', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const scheduled = uniqueNames('prune_sched');
  await prepareOutbox(pgUrl, scheduled);
  await insertRows(pool, scheduled, 9, '3 days');
  await insertRows(pool, scheduled, 2, '1 minute');
  const child = spawnRelay(
    relayEnv(pgUrl, kafkaBrokers, scheduled, {
      RELAY_PRUNE_INTERVAL_MS: '300',
      RELAY_RETENTION: '1d',
      RELAY_PRUNE_BATCH_SIZE: '4',
    }),
  );
  try {
    const line = await child.waitForLog('pruned published outbox rows', 30_000);
    assert.equal(line.deleted, 9);
    assert.equal(line.batches, 3, 'batches of 4, 4 and 1');
    assert.equal(line.retention, '1d');
    assert.equal(await countRows(scheduled), 2);
    assert.ok(!child.logs.some((l) => String(l.msg).startsWith('scheduled prune failed')));
  } finally {
    assert.equal(await stopRelay(child), 0);
    await dropOutbox(pgUrl, scheduled);
  }
});

test('an invalid RELAY_RETENTION stops prune and run with exit code 2, naming the setting', async () => {
  const env = {
    RELAY_PG_URL: 'postgres://relay@127.0.0.1:1/db',
    RELAY_KAFKA_BROKERS: '127.0.0.1:9092',
  };
  const spelled = await runCli(['prune', '--yes'], { ...env, RELAY_RETENTION: '7 days' });
  assert.equal(spelled.code, 2);
  assert.match(
    spelled.stderr,
    /RELAY_RETENTION: must be a whole number and a unit: s, m, h or d \(e\.g\. 30m, 12h, 7d\); got "7 days"/,
  );
  const zero = await runCli(['prune', '--dry-run'], { ...env, RELAY_RETENTION: '0d' });
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /RELAY_RETENTION: must be longer than 0; got "0d"/);
  const flag = await runCli(['prune', '--yes', '--retention', '1w'], env);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--retention: must be a whole number and a unit/);
  const run = await runCli(['run'], { ...env, RELAY_RETENTION: '-1d' });
  assert.equal(run.code, 2);
  assert.match(run.stderr, /RELAY_RETENTION: must be a whole number and a unit/);
});

test('prune without --yes or --dry-run refuses with exit code 2 and deletes nothing', async () => {
  const { pgUrl } = await services();
  const before = await countRows(streamed);
  const result = await runCli(['prune'], {
    RELAY_PG_URL: pgUrl,
    RELAY_OUTBOX_TABLE: streamed.table,
    RELAY_SLOT: streamed.slot,
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /prune deletes rows: pass --yes/);
  assert.match(result.stderr, /what to do: Run with --dry-run first/);
  assert.equal(await countRows(streamed), before);
});
