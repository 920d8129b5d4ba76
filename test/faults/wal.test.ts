import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { parseLsn } from '../../src/domain/lsn.ts';
import { spawnRelay, waitFor } from '../support/relay.ts';
import { scenario, stopRelay } from '../support/scenario.ts';
import { confirmedFlush, slotLagBytes } from '../support/slot.ts';

const MiB = 1024 * 1024;

async function currentWal(db: pg.Pool): Promise<bigint> {
  const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return parseLsn(rows[0]?.lsn ?? '0/0');
}

test('an idle outbox does not hold WAL back while another table takes 50 MB of writes', async (t) => {
  const s = await scenario('idle_outbox');
  const relay = spawnRelay(s.env);
  const filler = `filler_${s.names.id}`;
  try {
    await relay.waitForLog('streaming');
    await s.pool.query(`CREATE TABLE ${filler} (id bigserial PRIMARY KEY, body text)`);
    const walBefore = await currentWal(s.pool);
    for (let i = 0; i < 10; i++) {
      await s.pool.query(
        `INSERT INTO ${filler} (body) SELECT repeat(md5(g::text), 32) FROM generate_series(1, 5000) g`,
      );
    }
    // The relay may already have caught up by now, so the WAL the writes produced is measured
    // from the server's own position, not from the slot's lag.
    const written = Number((await currentWal(s.pool)) - walBefore);
    const lagAfterWrites = await slotLagBytes(s.pool, s.names.slot);
    await waitFor(
      async () => (await slotLagBytes(s.pool, s.names.slot)) < MiB,
      20_000,
      'the slot to catch up',
    );
    const lag = await slotLagBytes(s.pool, s.names.slot);
    assert.ok(written > 10 * MiB, `the writes did produce WAL (${written} bytes)`);
    assert.ok(lag < MiB);
    t.diagnostic(
      `WAL written: ${(written / MiB).toFixed(1)} MiB; slot lag: ${(lagAfterWrites / MiB).toFixed(1)} MiB right after the writes, ${(lag / 1024).toFixed(1)} KiB after`,
    );
  } finally {
    await s.pool.query(`DROP TABLE IF EXISTS ${filler}`);
    await stopRelay(relay);
    await s.cleanup();
  }
});

test('writes in another database of the cluster do not pile WAL up behind the slot', async () => {
  const s = await scenario('other_db');
  const relay = spawnRelay(s.env);
  const otherDb = `other_${s.names.id}`;
  await s.pool.query(`CREATE DATABASE ${otherDb}`);
  const url = new URL(s.pgUrl);
  url.pathname = `/${otherDb}`;
  const other = new pg.Client({ connectionString: url.toString() });
  try {
    await relay.waitForLog('streaming');
    await other.connect();
    await other.query('CREATE TABLE filler (body text)');
    await other.query(
      'INSERT INTO filler SELECT repeat(md5(g::text), 32) FROM generate_series(1, 20000) g',
    );
    await waitFor(
      async () => (await slotLagBytes(s.pool, s.names.slot)) < MiB,
      20_000,
      'the slot to catch up',
    );
  } finally {
    await other.end();
    await s.pool.query(`DROP DATABASE IF EXISTS ${otherDb}`);
    await stopRelay(relay);
    await s.cleanup();
  }
});

test('the heartbeat runs its statement and keeps the slot moving when nothing else writes', async () => {
  const s = await scenario('heartbeat', { RELAY_HEARTBEAT_INTERVAL_MS: '300' });
  const beats = `beats_${s.names.id}`;
  await s.pool.query(`CREATE TABLE ${beats} (at timestamptz DEFAULT now())`);
  const relay = spawnRelay({ ...s.env });
  const custom = spawnRelay({
    ...s.env,
    RELAY_SLOT: `${s.names.slot}_x`,
    RELAY_HEARTBEAT_SQL: `INSERT INTO ${beats} DEFAULT VALUES`,
  });
  try {
    await relay.waitForLog('streaming');
    const before = parseLsn(await confirmedFlush(s.pool, s.names.slot));
    await waitFor(
      async () => parseLsn(await confirmedFlush(s.pool, s.names.slot)) > before,
      10_000,
      'the confirmed position to move on heartbeats alone',
    );
    await custom.waitForLog('streaming');
    await waitFor(
      async () =>
        Number(
          (await s.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${beats}`)).rows[0]?.n,
        ) >= 2,
      10_000,
      'the custom heartbeat statement to run',
    );
  } finally {
    await stopRelay(relay);
    await stopRelay(custom);
    await s.pool.query(`DROP TABLE IF EXISTS ${beats}`);
    await s.pool.query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`,
      [`${s.names.slot}_x`],
    );
    await s.cleanup();
  }
});
