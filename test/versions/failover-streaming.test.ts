/**
 * A real failover (PostgreSQL 17 and later): a primary with a streaming standby that
 * synchronizes the relay's failover slot, a writer running, the primary crashed and the standby
 * promoted. The relay, given both hosts and target_session_attrs=read-write, finds the new
 * primary and continues from the synchronized slot: nothing lost or reordered, duplicates
 * counted and bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Finding } from '../../src/admin/doctor.ts';
import { removeLocalPostgres, startLocalPostgres } from '../../scripts/services/postgres.ts';
import type { LocalPostgresState } from '../../scripts/services/types.ts';
import { planEvents, services, uniqueNames } from '../support/fixtures.ts';
import { sql, urlOf } from '../support/promote.ts';
import { relayEnv, runCli, spawnRelay, waitFor } from '../support/relay.ts';
import { readBack, stopRelay, type Scenario } from '../support/scenario.ts';
import { failOver, startStreamingStandby, waitForSyncedSlot } from '../support/standby.ts';
import { writeThroughRestarts } from '../support/writer.ts';

/** Duplicates allowed: what the relay sent after the standby's copy of the slot was last synced. */
const MAX_DUPLICATES = 2_000;

/** A pool that an application's retry would reach through its own failover: the current primary. */
function followingPool(first: string) {
  let pool = new pg.Pool({ connectionString: first, max: 2 });
  pool.on('error', () => undefined);
  const proxy = {
    connect: () => pool.connect(),
    query: (text: string, values?: unknown[]) => pool.query(text, values),
  };
  return {
    pool: proxy as unknown as pg.Pool,
    switchTo(url: string) {
      const old = pool;
      pool = new pg.Pool({ connectionString: url, max: 2 });
      pool.on('error', () => undefined);
      void old.end().catch(() => undefined);
    },
    end: () => pool.end(),
  };
}

for (const major of [17, 18]) {
  test(`on PostgreSQL ${major}, after a failover to a streaming standby the relay follows a multi-host URL to the new primary and continues from the synchronized slot: nothing lost or reordered`, async (t) => {
    const { kafkaBrokers } = await services();
    const names = uniqueNames(`failover${major}`);
    const primary = await startLocalPostgres({ major });
    let standby: LocalPostgresState | null = null;
    let writer: ReturnType<typeof followingPool> | null = null;
    try {
      standby = await startStreamingStandby(primary);
      const primaryUrl = urlOf(primary.port);
      const standbyUrl = urlOf(standby.port);
      const bothHosts = `postgres://postgres@127.0.0.1:${primary.port},127.0.0.1:${standby.port}/postgres?target_session_attrs=read-write`;
      const env = relayEnv(bothHosts, kafkaBrokers, names);
      const migrated = await runCli(['migrate'], env);
      assert.equal(migrated.code, 0, migrated.stderr);

      const transactions = planEvents({ total: 9_000, aggregates: 60, sizes: [1, 20, 5, 200] });
      const events = transactions.flat();
      const relay = spawnRelay(env);
      try {
        await relay.waitForLog('streaming');
        writer = followingPool(primaryUrl);
        const writing = writeThroughRestarts(writer.pool, names, transactions, {
          eventsPerSecond: 1_500,
        });
        // The standby's copy stays temporary until the primary's slot moves past where the copy
        // began (the relay confirming what Kafka holds); only then does it survive a promotion.
        await waitForSyncedSlot(standby, names.slot);
        const doctor = await runCli(['doctor', '--json'], env);
        const ready = (JSON.parse(doctor.stdout) as Finding[]).find((f) => f.name === 'failover');
        t.diagnostic(`doctor: ${JSON.stringify(ready)}`);
        assert.equal(ready?.status, 'ok', JSON.stringify(ready));
        assert.match(ready.detail, new RegExp(`standbys checked: 127\\.0\\.0\\.1:${standby.port}`));
        await sleep(1_000);
        const synced = await sql<{ lsn: string }>(
          standbyUrl,
          'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
          [names.slot],
        );
        await failOver(primary, standby);
        writer.switchTo(standbyUrl);
        t.diagnostic(`failed over; the standby's slot was synced up to ${synced[0]?.lsn}`);
        const written = await writing;
        t.diagnostic(`writer: ${JSON.stringify(written)}`);
        assert.equal(written.written, events.length, 'the writer wrote the whole plan');

        const reader = { names, brokers: kafkaBrokers, pgUrl: standbyUrl } as unknown as Scenario;
        const count = await readBack(reader, events, 120_000);
        t.diagnostic(`PostgreSQL ${major} failover: ${JSON.stringify(count)}`);
        assert.deepEqual(
          { lost: count.lost, reordered: count.reordered },
          { lost: 0, reordered: 0 },
          `lost: ${count.lostIds.slice(0, 20).join(', ')}`,
        );
        assert.ok(count.duplicated <= MAX_DUPLICATES, `${count.duplicated} duplicates`);
        await waitFor(
          async () => {
            const rows = await sql<{ active: boolean }>(
              standbyUrl,
              'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
              [names.slot],
            );
            return rows[0]?.active === true;
          },
          10_000,
          'the relay to hold the slot on the new primary',
        );
      } finally {
        await stopRelay(relay);
      }
    } finally {
      await writer?.end().catch(() => undefined);
      if (standby) {
        await removeLocalPostgres(standby).catch(() => undefined);
        await rm(join(standby.dir, '..'), { recursive: true, force: true });
      }
      await removeLocalPostgres(primary).catch(() => undefined);
    }
  });
}
