/** PostgreSQL 17+: `migrate` creates the slot with failover = true, so a synced standby keeps it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { removeLocalPostgres, startLocalPostgres } from '../../scripts/services/postgres.ts';
import { uniqueNames } from '../support/fixtures.ts';
import { relayEnv, runCli } from '../support/relay.ts';

test('on PostgreSQL 17, migrate creates the slot with failover = true and says so', async () => {
  const server = await startLocalPostgres({ major: 17 });
  const url = `postgres://postgres@127.0.0.1:${server.port}/postgres`;
  const names = uniqueNames('failoverslot');
  try {
    const result = await runCli(['migrate'], relayEnv(url, ['127.0.0.1:9'], names));
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /failover = true/);
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const { rows } = await db.query<{ failover: boolean }>(
        'SELECT failover FROM pg_replication_slots WHERE slot_name = $1',
        [names.slot],
      );
      assert.deepEqual(rows, [{ failover: true }]);
    } finally {
      await db.end();
    }
  } finally {
    await removeLocalPostgres(server).catch(() => undefined);
  }
});
