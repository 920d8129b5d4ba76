/**
 * The relay's key behaviours on one PostgreSQL major version, through the real CLI: each
 * test/versions/postgres-<major>.test.ts calls versionSuite(<major>). The suite starts its own
 * throwaway cluster of that version (binaries from Debian, or fetched once: see
 * scripts/services/pg-binaries.ts) and shares the harness's Kafka. Not named *.test.ts: it runs
 * only through those files.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  removeLocalPostgres,
  startLocalPostgres,
  localPostgresControl,
} from '../../scripts/services/postgres.ts';
import type { LocalPostgresState } from '../../scripts/services/types.ts';
import type { Finding } from '../../src/admin/doctor.ts';
import { quoteIdent } from '../../src/db/sql.ts';
import { consumeAll, decodeAll } from '../support/consume.ts';
import {
  dropOutbox,
  planEvents,
  prepareOutbox,
  services,
  uniqueNames,
  writeTransactions,
  type OutboxNames,
} from '../support/fixtures.ts';
import { readiness, relayEnv, runCli, spawnRelay, waitFor } from '../support/relay.ts';
import { published, readBack, stopRelay, type Scenario } from '../support/scenario.ts';
import { confirmedFlush } from '../support/slot.ts';

export function versionSuite(major: number): void {
  const on = `on PostgreSQL ${major}`;
  let cluster: LocalPostgresState;
  let pgUrl = '';
  let brokers: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    brokers = (await services()).kafkaBrokers;
    cluster = await startLocalPostgres({ major });
    pgUrl = `postgres://postgres@127.0.0.1:${cluster.port}/postgres`;
  });

  after(async () => {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    if (cluster) await removeLocalPostgres(cluster);
  });

  /** A fresh outbox, publication and slot on this version's cluster. */
  async function outbox(label: string, extra: Record<string, string> = {}): Promise<Scenario> {
    const names = uniqueNames(`pg${major}_${label}`);
    await prepareOutbox(pgUrl, names);
    const pool = new pg.Pool({ connectionString: pgUrl, max: 2 });
    pool.on('error', () => undefined);
    const cleanup = async () => {
      await pool.end();
      await dropOutbox(pgUrl, names);
    };
    cleanups.push(cleanup);
    const env = relayEnv(pgUrl, brokers, names, extra);
    return { names, env, pgUrl, brokers, pool, cleanup };
  }

  test(`runs the cluster of the version asked for ${on}`, async () => {
    const db = new pg.Client({ connectionString: pgUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ v: string; wal: string }>(
        "SELECT current_setting('server_version_num') AS v, current_setting('wal_level') AS wal",
      );
      assert.equal(Math.floor(Number(rows[0]?.v) / 10_000), major);
      assert.equal(rows[0]?.wal, 'logical');
    } finally {
      await db.end();
    }
  });

  // Independent outboxes on one server: these run side by side, which halves the file's time.
  describe(`while PostgreSQL ${major} runs`, { concurrency: 3 }, () => {
    test(`migrate applies the migrations once and does nothing the second time ${on}`, async () => {
      const names = uniqueNames(`pg${major}_migrate`);
      cleanups.push(() => dropOutbox(pgUrl, names));
      const env = migrateEnv(pgUrl, names);
      const first = await runCli(['migrate', '--json'], env);
      assert.equal(first.code, 0, first.stderr);
      const applied = JSON.parse(first.stdout) as { applied: string[]; slotCreated: boolean };
      assert.ok(applied.applied.length >= 2, first.stdout);
      assert.equal(applied.slotCreated, true);
      const second = await runCli(['migrate', '--json'], env);
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual(JSON.parse(second.stdout), {
        applied: [],
        alreadyApplied: applied.applied,
        foreignTable: false,
        slot: names.slot,
        slotCreated: false,
        // 17+: created as a failover slot, which a synced standby keeps.
        slotFailover: major >= 17 ? true : null,
      });
    });

    test(`migrate --snapshot publishes the rows already there, then the slot streams from where they end ${on}`, async (t) => {
      const names = uniqueNames(`pg${major}_snapshot`);
      await prepareOutbox(pgUrl, names, { slot: false });
      const pool = new pg.Pool({ connectionString: pgUrl, max: 2 });
      cleanups.push(async () => {
        await pool.end();
        await dropOutbox(pgUrl, names);
      });
      const s = {
        names,
        env: relayEnv(pgUrl, brokers, names),
        pgUrl,
        brokers,
        pool,
        cleanup: () => Promise.resolve(),
      };
      const transactions = planEvents({ total: 600, aggregates: 40, sizes: [1, 30, 4, 9] });
      await writeTransactions(pool, names, transactions.slice(0, 20));
      const migrated = await runCli(['migrate', '--snapshot', '--json'], s.env);
      assert.equal(migrated.code, 0, migrated.stderr);
      const summary = JSON.parse(migrated.stdout) as {
        slotFailover: boolean | null;
        snapshot: { sent: number };
      };
      assert.equal(summary.snapshot.sent, transactions.slice(0, 20).flat().length);
      assert.equal(summary.slotFailover, major >= 17 ? true : null);
      const relay = spawnRelay(s.env);
      try {
        await writeTransactions(pool, names, transactions.slice(20));
        const count = await readBack(s, transactions.flat());
        t.diagnostic(`${on}: ${JSON.stringify(count)}`);
        assert.deepEqual(
          { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
          { lost: 0, duplicated: 0, reordered: 0 },
          JSON.stringify(count),
        );
      } finally {
        await stopRelay(relay);
      }
    });

    test(`relays events in order, without loss or duplicates, and confirms the slot past idle WAL ${on}`, async (t) => {
      const s = await outbox('e2e');
      const transactions = planEvents({ total: 1500, aggregates: 100, sizes: [1, 50, 7, 200, 3] });
      const events = transactions.flat();
      const relay = spawnRelay(s.env);
      try {
        await relay.waitForLog('streaming');
        await writeTransactions(s.pool, s.names, transactions);
        // Transactions with nothing for the publication: PostgreSQL 14 still sends their BEGIN
        // and COMMIT, 15+ skip them; either way the slot must move past them.
        await writeUnpublished(s.pool, s.names, 20);
        const count = await readBack(s, events);
        t.diagnostic(`${on}: ${JSON.stringify(count)}`);
        assert.deepEqual(
          { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
          { lost: 0, duplicated: 0, reordered: 0 },
          JSON.stringify(count),
        );
        await waitForConfirmedPastNow(s.pool, s.names.slot);
      } finally {
        await stopRelay(relay);
      }
    });

    test(`a relay stopped with SIGTERM mid-stream and restarted loses and repeats nothing ${on}`, async (t) => {
      const { s, events, first, writing } = await relayUnderLoad('restart');
      first.process.kill('SIGTERM');
      assert.equal(await first.exited, 0, 'SIGTERM exits 0');
      await writing;
      const second = spawnRelay(s.env);
      try {
        const count = await readBack(s, events);
        t.diagnostic(`${on}: ${JSON.stringify(count)}`);
        assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
        assert.equal(count.reordered, 0);
        assert.equal(count.duplicated, 0, 'a clean stop leaves nothing to replay');
      } finally {
        await stopRelay(second);
      }
    });

    test(`a relay killed with SIGKILL mid-stream loses nothing after a restart ${on}`, async (t) => {
      const { s, events, first, writing } = await relayUnderLoad('crash');
      first.process.kill('SIGKILL');
      await first.exited;
      await writing;
      const second = spawnRelay(s.env);
      try {
        const count = await readBack(s, events);
        t.diagnostic(`${on}: ${JSON.stringify(count)}`);
        assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
        assert.equal(count.reordered, 0);
        assert.ok(count.duplicated <= 1000 + 200 + 500, `duplicates: ${count.duplicated}`);
      } finally {
        await stopRelay(second);
      }
    });

    test(`a standby relay takes over the slot within 10 s of a SIGKILL, losing nothing ${on}`, async (t) => {
      const s = await outbox('standby', { RELAY_STANDBY_RETRY_MS: '1000' });
      const transactions = planEvents({ total: 2000, aggregates: 100, sizes: [1, 30, 200] });
      const events = transactions.flat();
      const active = spawnRelay(s.env);
      await active.waitForLog('streaming');
      const standby = spawnRelay(s.env);
      try {
        await standby.waitForLog('standing by: another relay streams from the slot');
        assert.equal((await readiness(standby)).status, 'standby');
        const writing = writeTransactions(s.pool, s.names, transactions);
        await waitFor(async () => (await published(active)) > 300, 30_000, 'events in Kafka');
        active.process.kill('SIGKILL');
        const killedAt = Date.now();
        await standby.waitForLog('streaming', 15_000);
        const takeoverMs = Date.now() - killedAt;
        t.diagnostic(`${on}: standby took over in ${takeoverMs} ms`);
        assert.ok(takeoverMs < 10_000, `takeover took ${takeoverMs} ms`);
        await writing;
        const count = await readBack(s, events);
        t.diagnostic(`${on}: ${JSON.stringify(count)}`);
        assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
        assert.equal(count.reordered, 0);
      } finally {
        await stopRelay(active);
        await stopRelay(standby);
      }
    });

    test(`dead-letters bad rows while the good ones around them arrive in order, and doctor passes ${on}`, async () => {
      const s = await outbox('dlq');
      const relay = spawnRelay(s.env);
      try {
        await relay.waitForLog('streaming');
        const table = `${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)}`;
        await s.pool.query(
          `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload)
           SELECT gen_random_uuid(), 'order', CASE WHEN n % 3 = 1 THEN '' ELSE 'o-1' END,
                  'changed', jsonb_build_object('seq', n)
             FROM generate_series(0, 8) AS n`,
        );
        const good = await consumeAll({ brokers, topics: [s.names.topic('order')], atLeast: 6 });
        const seqs = decodeAll(good).map(
          (r) => (JSON.parse(r.event.payload) as { seq: number }).seq,
        );
        assert.deepEqual(seqs, [0, 2, 3, 5, 6, 8], 'the good events, in commit order');
        const letters = await consumeAll({
          brokers,
          topics: [s.names.deadLetterTopic],
          atLeast: 3,
        });
        assert.deepEqual(
          letters.map((l) => l.headers.dlq_reason),
          ['missing-aggregate-id', 'missing-aggregate-id', 'missing-aggregate-id'],
        );
      } finally {
        await stopRelay(relay);
      }
      const doctor = await runCli(['doctor', '--json'], s.env);
      assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
      const findings = JSON.parse(doctor.stdout) as Finding[];
      const failed = findings.filter((f) => f.status === 'fail');
      assert.deepEqual(failed, [], 'no doctor check fails');
      assert.equal(findings.find((f) => f.name === 'slot')?.status, 'ok');
    });
  });

  // These change the server (a restart, slot-invalidating settings): alone, after the others.
  describe(`changing the PostgreSQL ${major} server`, () => {
    test(`a fast Postgres restart keeps the slot usable and the relay resumes without loss ${on}`, async (t) => {
      const s = await outbox('pgrestart');
      const transactions = planEvents({ total: 1000, aggregates: 50, sizes: [1, 20, 100] });
      const events = transactions.flat();
      const [firstHalf, secondHalf] = [transactions.slice(0, 20), transactions.slice(20)];
      const first = spawnRelay(s.env);
      await first.waitForLog('streaming');
      await writeTransactions(s.pool, s.names, firstHalf);
      await waitForConfirmedPastNow(s.pool, s.names.slot);
      assert.equal(await stopRelay(first), 0);
      const before = await confirmedFlush(s.pool, s.names.slot);
      await localPostgresControl(cluster).restart();
      const afterRestart = await waitForAnswer(() => confirmedFlush(s.pool, s.names.slot));
      // PostgreSQL 17 writes a logical slot's confirmed position at a shutdown checkpoint; before
      // 17 the last confirmation before a fast restart may be forgotten, and the relay skips
      // what Kafka already holds (its position in the checkpoint topic).
      t.diagnostic(`${on}: confirmed_flush ${before} before the restart, ${afterRestart} after`);
      if (major >= 17) assert.equal(afterRestart, before, 'PostgreSQL 17+ keeps confirmed_flush');
      const second = spawnRelay(s.env);
      try {
        await second.waitForLog('streaming');
        await writeTransactions(s.pool, s.names, secondHalf);
        const count = await readBack(s, events);
        t.diagnostic(`${on}: ${JSON.stringify(count)}`);
        assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
        assert.equal(count.reordered, 0);
        assert.equal(count.duplicated, 0, 'nothing Kafka holds is sent again');
      } finally {
        await stopRelay(second);
      }
    });

    test(`an invalidated slot stops run and migrate with what to do, and doctor fails it ${on}`, async () => {
      const s = await outbox('invalid');
      const reason = await invalidateSlot(s.pool, s.names.slot, major);
      const run = await runCli(['run'], s.env, 30_000);
      assert.equal(run.code, 1, `run exits 1, not retrying: ${run.stderr}`);
      const message = new RegExp(
        `replication slot "${s.names.slot}" was invalidated by PostgreSQL \\(${reason}`,
      );
      assert.match(run.stderr, message);
      assert.match(run.stderr, /what to do: .*offsets reset --recreate --yes.*replay --from/);
      const migrate = await runCli(['migrate'], migrateEnv(pgUrl, s.names));
      assert.equal(migrate.code, 1, migrate.stdout);
      assert.match(migrate.stderr, message);
      const doctor = await runCli(['doctor', '--json'], s.env);
      assert.equal(doctor.code, 1);
      const slot = (JSON.parse(doctor.stdout) as Finding[]).find((f) => f.name === 'slot');
      assert.equal(slot?.status, 'fail', JSON.stringify(slot));
      assert.match(slot?.detail ?? '', message);

      const recreate = await runCli(['offsets', 'reset', '--recreate', '--yes'], s.env);
      assert.equal(recreate.code, 0, recreate.stdout + recreate.stderr);
      assert.equal(
        await slotInvalidated(s.pool, s.names.slot),
        false,
        'the recreated slot streams',
      );
    });
  });

  /** A relay streaming a 2,000-event load still being written, with 300+ events in Kafka. */
  async function relayUnderLoad(label: string) {
    const s = await outbox(label, { RELAY_MAX_IN_FLIGHT_EVENTS: '1000' });
    const transactions = planEvents({ total: 2000, aggregates: 100, sizes: [1, 40, 7, 200, 3] });
    const first = spawnRelay(s.env);
    await first.waitForLog('streaming');
    const writing = writeTransactions(s.pool, s.names, transactions);
    await waitFor(async () => (await published(first)) > 300, 30_000, 'events in Kafka');
    return { s, events: transactions.flat(), first, writing };
  }
}

function migrateEnv(pgUrl: string, names: OutboxNames): Record<string, string> {
  return {
    RELAY_PG_URL: pgUrl,
    RELAY_OUTBOX_TABLE: names.table,
    RELAY_PUBLICATION: names.publication,
    RELAY_SLOT: names.slot,
  };
}

async function writeUnpublished(pool: pg.Pool, names: OutboxNames, count: number) {
  const other = quoteIdent(`${names.table}_other`);
  await pool.query(`CREATE TABLE IF NOT EXISTS ${other} (n int)`);
  for (let i = 0; i < count; i++) await pool.query(`INSERT INTO ${other} VALUES ($1)`, [i]);
}

/** The slot confirms everything written so far, idle transactions included. */
async function waitForConfirmedPastNow(pool: pg.Pool, slot: string): Promise<void> {
  const { rows } = await pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  const target = rows[0]?.lsn ?? '0/0';
  await waitFor(
    async () => {
      const behind = await pool.query<{ behind: boolean }>(
        'SELECT confirmed_flush_lsn < $2::pg_lsn AS behind FROM pg_replication_slots WHERE slot_name = $1',
        [slot, target],
      );
      return behind.rows[0]?.behind === false;
    },
    20_000,
    `slot ${slot} to confirm past ${target}`,
  );
}

async function slotInvalidated(pool: pg.Pool, slot: string): Promise<boolean> {
  const { rows } = await pool.query<{ lost: boolean }>(
    `SELECT wal_status = 'lost' OR to_jsonb(s) ->> 'invalidation_reason' IS NOT NULL AS lost
       FROM pg_replication_slots s WHERE slot_name = $1`,
    [slot],
  );
  return rows[0]?.lost ?? true;
}

async function waitForAnswer<T>(query: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await query();
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Makes PostgreSQL invalidate the (inactive) slot, and returns the reason it will give. 18: an
 * idle_replication_slot_timeout of 1 s. Before: max_slot_wal_keep_size = 1MB and a few WAL
 * segments, so the checkpoint removes WAL the slot needs. Both are reset afterwards; the slots of
 * the other tests are dropped by then, or active.
 */
async function invalidateSlot(pool: pg.Pool, slot: string, major: number): Promise<string> {
  const [setting, value] =
    major >= 18 ? ['idle_replication_slot_timeout', '1s'] : ['max_slot_wal_keep_size', '1MB'];
  await pool.query(`ALTER SYSTEM SET ${setting} = '${value}'`);
  await pool.query('SELECT pg_reload_conf()');
  try {
    if (major >= 18) await new Promise((r) => setTimeout(r, 1500));
    else {
      await pool.query('CREATE TABLE IF NOT EXISTS wal_filler (x text)');
      for (let i = 0; i < 4; i++) {
        await pool.query(
          "INSERT INTO wal_filler SELECT repeat('x', 1000) FROM generate_series(1, 2000)",
        );
        await pool.query('SELECT pg_switch_wal()');
      }
    }
    await pool.query('CHECKPOINT');
    const { rows } = await pool.query<{ status: string | null }>(
      'SELECT wal_status AS status FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    assert.ok(rows[0], `slot ${slot} exists`);
  } finally {
    await pool.query(`ALTER SYSTEM RESET ${setting}`);
    await pool.query('SELECT pg_reload_conf()');
  }
  return major >= 18 ? 'idle_timeout' : 'wal_removed';
}
