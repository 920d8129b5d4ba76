/**
 * Slot health on a real cluster with a small max_slot_wal_keep_size: /readyz and /metrics show
 * the slot's wal_status and that this relay holds it; a Postgres outage fails readiness but never
 * liveness; a slot PostgreSQL invalidates while the relay is frozen stops it with exit code 1 and
 * PG_SLOT_INVALIDATED instead of a retry loop, and so does the invalidated slot at the next start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  localPostgresControl,
  removeLocalPostgres,
  startLocalPostgres,
} from '../../scripts/services/postgres.ts';
import { prepareOutbox, services, uniqueNames } from '../support/fixtures.ts';
import { metricTotal } from '../support/metrics.ts';
import { sql, urlOf } from '../support/promote.ts';
import { relayEnv, spawnRelay, waitFor, type RelayChild } from '../support/relay.ts';
import { stopRelay } from '../support/scenario.ts';

interface ReadyBody {
  status: string;
  failing: string[];
  postgres: { ok: boolean };
  kafka: { ok: boolean };
  slot: { heldByUs: boolean; walStatus: string | null; safeWalSizeBytes: number | null } | null;
}

async function get(relay: RelayChild, path: string): Promise<{ code: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${await relay.httpPort}${path}`);
  const text = await response.text();
  return { code: response.status, body: path === '/metrics' ? text : JSON.parse(text) };
}

const readyz = async (relay: RelayChild) => {
  const { code, body } = await get(relay, '/readyz');
  return { code, body: body as ReadyBody };
};

/** Enough WAL, in switched segments, for a checkpoint to remove what the slot needs past 1 MB. */
async function fillWal(url: string): Promise<void> {
  await sql(url, 'CREATE TABLE IF NOT EXISTS wal_filler (x text)');
  for (let i = 0; i < 4; i++) {
    await sql(url, "INSERT INTO wal_filler SELECT repeat('x', 1000) FROM generate_series(1, 2000)");
    await sql(url, 'SELECT pg_switch_wal()');
  }
  await sql(url, 'CHECKPOINT');
}

test('slot health: readiness and metrics show the slot, an outage fails only readiness, an invalidated slot stops the relay with PG_SLOT_INVALIDATED', async (t) => {
  const { kafkaBrokers } = await services();
  const names = uniqueNames('slothealth');
  const cluster = await startLocalPostgres();
  const url = urlOf(cluster.port);
  const relays: RelayChild[] = [];
  try {
    await sql(url, "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    await sql(url, 'SELECT pg_reload_conf()');
    await prepareOutbox(url, names);
    const env = relayEnv(url, kafkaBrokers, names, { RELAY_SLOT_CHECK_INTERVAL_MS: '300' });
    const relay = spawnRelay(env);
    relays.push(relay);
    await relay.waitForLog('streaming', 30_000);

    await t.test(
      '/readyz and /metrics report wal_status and that this relay holds the slot',
      async () => {
        await waitFor(
          async () => (await readyz(relay)).body.slot?.heldByUs === true,
          10_000,
          '/readyz to say the slot is held by us',
        );
        const { code, body } = await readyz(relay);
        assert.equal(code, 200, JSON.stringify(body));
        assert.deepEqual(body.failing, []);
        assert.ok(body.postgres.ok && body.kafka.ok);
        assert.match(body.slot?.walStatus ?? '', /^(reserved|extended|unreserved)$/);
        assert.equal(
          typeof body.slot?.safeWalSizeBytes,
          'number',
          'a cap is set: a finite safe size',
        );
        const metrics = (await get(relay, '/metrics')).body as string;
        assert.equal(metricTotal(metrics, 'outbox_relay_slot_held'), 1);
        assert.equal(metricTotal(metrics, 'outbox_relay_slot_wal_status'), 1, 'one status at 1');
        assert.match(
          metrics,
          new RegExp(`outbox_relay_slot_wal_status\\{status="${body.slot?.walStatus}"\\} 1`),
        );
        assert.equal(metricTotal(metrics, 'outbox_relay_slot_invalidated'), 0);
      },
    );

    await t.test(
      'during a Postgres outage /livez stays 200 while /readyz answers 503',
      async () => {
        const control = localPostgresControl(cluster);
        await control.stop();
        const live: number[] = [];
        let notReady: ReadyBody | null = null;
        const until = Date.now() + 4_000;
        while (Date.now() < until || notReady === null) {
          live.push((await get(relay, '/livez')).code);
          const ready = await readyz(relay);
          if (ready.code === 503) notReady = ready.body;
          await new Promise((r) => setTimeout(r, 200));
          if (Date.now() > until + 10_000) break;
        }
        await control.start();
        assert.ok(notReady, '/readyz went 503');
        assert.ok(
          live.every((code) => code === 200),
          `/livez: ${live.join(',')}`,
        );
        assert.ok(
          notReady.failing.some((f) => f.startsWith('postgres')),
          notReady.failing.join('; '),
        );
        assert.equal(notReady.postgres.ok, false);
        await waitFor(
          async () => {
            const ready = await readyz(relay);
            return ready.code === 200 && ready.body.slot?.heldByUs === true;
          },
          30_000,
          '/readyz 200 again with the slot held',
        );
      },
    );

    await t.test(
      'a slot invalidated while the relay is frozen stops it: exit 1, PG_SLOT_INVALIDATED',
      async () => {
        relay.process.kill('SIGSTOP');
        try {
          await fillWal(url);
        } finally {
          relay.process.kill('SIGCONT');
        }
        const slots = await sql<{ wal_status: string }>(
          url,
          'SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1',
          [names.slot],
        );
        assert.equal(slots[0]?.wal_status, 'lost', 'PostgreSQL invalidated the slot');
        const thawed = Date.now();
        const code = await Promise.race([
          relay.exited,
          new Promise((r) => setTimeout(() => r('still running'), 15_000)),
        ]);
        const said = JSON.stringify(relay.logs);
        const byCheck = relay.logs.some(
          (l) => l.msg === 'the slot check found the slot invalidated; stopping',
        );
        t.diagnostic(
          `exit ${String(code)} ${Date.now() - thawed} ms after the thaw; seen first by ${byCheck ? 'the slot check' : 'the reconnection'}`,
        );
        assert.equal(code, 1, said.slice(-1500));
        assert.match(said, /PG_SLOT_INVALIDATED/);
        assert.match(said, /was invalidated by PostgreSQL \(wal_removed/);
        assert.match(said, /offsets reset --recreate --yes/);
        assert.match(said, /replay --from/);
      },
    );

    await t.test(
      'a relay started on the invalidated slot exits 1 with PG_SLOT_INVALIDATED at start',
      async () => {
        const again = spawnRelay(env);
        relays.push(again);
        const code = await Promise.race([
          again.exited,
          new Promise((r) => setTimeout(() => r('still running'), 20_000)),
        ]);
        assert.equal(code, 1);
        assert.match(JSON.stringify(again.logs), /PG_SLOT_INVALIDATED/);
      },
    );
  } finally {
    for (const relay of relays) {
      relay.process.kill('SIGCONT');
      await stopRelay(relay);
    }
    await removeLocalPostgres(cluster).catch(() => undefined);
  }
});
