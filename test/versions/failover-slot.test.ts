/** PostgreSQL 17+: `migrate` makes the slot a failover slot, so a synced standby keeps it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { removeLocalPostgres, startLocalPostgres } from '../../scripts/services/postgres.ts';
import { services, uniqueNames } from '../support/fixtures.ts';
import { sql, urlOf } from '../support/promote.ts';
import { relayEnv, runCli, spawnRelay } from '../support/relay.ts';
import { stopRelay } from '../support/scenario.ts';

const failoverOf = async (url: string, slot: string) =>
  (
    await sql<{ failover: boolean }>(
      url,
      'SELECT failover FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    )
  )[0]?.failover;

test('on PostgreSQL 17, migrate creates the slot with failover = true and says so', async () => {
  const server = await startLocalPostgres({ major: 17 });
  const url = urlOf(server.port);
  const names = uniqueNames('failoverslot');
  try {
    const result = await runCli(['migrate'], relayEnv(url, ['127.0.0.1:9'], names));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /failover = true/);
    assert.equal(await failoverOf(url, names.slot), true);
  } finally {
    await removeLocalPostgres(server).catch(() => undefined);
  }
});

test('on PostgreSQL 17, migrate turns failover on for a slot made without it, and says why it cannot while a relay holds the slot', async () => {
  const { kafkaBrokers } = await services();
  const server = await startLocalPostgres({ major: 17 });
  const url = urlOf(server.port);
  const names = uniqueNames('failoveralter');
  const env = relayEnv(url, kafkaBrokers, names);
  try {
    const first = await runCli(['migrate', '--no-slot'], env);
    assert.equal(first.code, 0, first.stderr);
    await sql(url, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [names.slot]);
    assert.equal(await failoverOf(url, names.slot), false);

    const relay = spawnRelay(env);
    try {
      await relay.waitForLog('streaming');
      const held = await runCli(['migrate'], env);
      assert.equal(held.code, 0, held.stderr);
      assert.match(
        held.stderr,
        /could not turn failover on \(a relay holds the slot: process \d+\); stop the relay, run migrate again/,
      );
      assert.equal(await failoverOf(url, names.slot), false);
    } finally {
      await stopRelay(relay);
    }

    const freed = await runCli(['migrate'], env);
    assert.equal(freed.code, 0, freed.stderr);
    assert.match(freed.stdout, /failover turned on/);
    assert.equal(await failoverOf(url, names.slot), true);
  } finally {
    await removeLocalPostgres(server).catch(() => undefined);
  }
});
