import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { quoteIdent, quoteLiteral } from '../../src/db/sql.ts';
import { consumeAll, decodeAll } from '../support/consume.ts';
import {
  dropOutbox,
  prepareOutbox,
  services,
  uniqueNames,
  type OutboxNames,
} from '../support/fixtures.ts';
import { relayEnv, spawnRelay, type RelayChild } from '../support/relay.ts';
import { stopRelay } from '../support/scenario.ts';

/**
 * The README's least-privilege SQL, for one outbox. Not a migration: roles are cluster-wide,
 * CREATE ROLE needs rights the table owner seldom has, and REPLICATION is not inherited through
 * a group role, so only a login role of its own can carry it.
 */
function relayRoleSql(role: string, password: string, names: OutboxNames): string {
  return `
    CREATE ROLE ${quoteIdent(role)} LOGIN REPLICATION PASSWORD ${quoteLiteral(password)};
    GRANT USAGE ON SCHEMA ${quoteIdent(names.schema)} TO ${quoteIdent(role)};
    GRANT SELECT ON ${quoteIdent(names.schema)}.${quoteIdent(names.table)} TO ${quoteIdent(role)};`;
}

const PRUNE_FAILED =
  'scheduled prune failed; trying again at the next interval (RELAY_PRUNE_INTERVAL_MS)';

test('a role with only REPLICATION and SELECT on the outbox relays events, and cannot write the outbox', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const names = uniqueNames('least_priv');
  const role = `relay_${names.id}`;
  const password = `pw-${randomUUID()}`;
  await prepareOutbox(pgUrl, names);
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  let relay: RelayChild | undefined;
  try {
    await admin.query(relayRoleSql(role, password, names));
    const url = new URL(pgUrl);
    url.username = role;
    url.password = password;
    const table = `${quoteIdent(names.schema)}.${quoteIdent(names.table)}`;

    const asRole = new pg.Client({ connectionString: url.toString() });
    await asRole.connect();
    try {
      await assert.rejects(
        asRole.query(
          `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload)
           VALUES (gen_random_uuid(), 'order', 'a-1', 'order.created', '{}')`,
        ),
        { code: '42501' },
      );
      await assert.rejects(asRole.query(`DELETE FROM ${table}`), { code: '42501' });
    } finally {
      await asRole.end();
    }

    // Scheduled pruning is on, to show what the missing DELETE grant does: a warning, not a stop.
    relay = spawnRelay(
      relayEnv(url.toString(), kafkaBrokers, names, { RELAY_PRUNE_INTERVAL_MS: '300' }),
    );
    await relay.waitForLog('streaming');
    const id = randomUUID();
    await admin.query(
      `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload)
       VALUES ($1, 'order', 'order-1', 'order.created', '{"total": 1}')`,
      [id],
    );
    const records = decodeAll(
      await consumeAll({
        brokers: kafkaBrokers,
        topics: [names.topic('order')],
        atLeast: 1,
        settleMs: 500,
      }),
    );
    assert.deepEqual(
      records.map((r) => r.event.event_id),
      [id],
    );
    const warning = await relay.waitForLog(PRUNE_FAILED, 15_000);
    assert.match(String(warning.hint), /prune needs DELETE on the outbox table/);
    assert.equal(relay.process.exitCode, null, 'the relay keeps running');
  } finally {
    if (relay) assert.equal(await stopRelay(relay), 0);
    await dropOutbox(pgUrl, names);
    await admin.query(`DROP OWNED BY ${quoteIdent(role)}`).catch(() => undefined);
    await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
    await admin.end();
  }
});
