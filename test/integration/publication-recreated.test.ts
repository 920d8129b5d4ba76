/**
 * A publication dropped and created again: the slot, positioned before the re-creation, can never
 * see it (pgoutput reads the publication as of the slot's position). The relay must say so and
 * the recovery it names (offsets reset --to-now, then replay --from) must lose nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { consumeAll, decodeAll } from '../support/consume.ts';
import { runCli, spawnRelay } from '../support/relay.ts';
import { scenario, stopRelay, type Scenario } from '../support/scenario.ts';
import { quoteIdent } from '../../src/db/sql.ts';

async function insert(s: Scenario, count: number): Promise<string[]> {
  const table = `${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)}`;
  const ids = Array.from({ length: count }, () => randomUUID());
  await s.pool.query(
    `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload)
     SELECT id::uuid, 'order', 'o-1', 'changed', '{}'::jsonb FROM unnest($1::text[]) AS u(id)`,
    [ids],
  );
  return ids;
}

async function eventIds(s: Scenario, atLeast: number): Promise<Set<string>> {
  const records = await consumeAll({
    brokers: s.brokers,
    topics: [s.names.topic('order')],
    atLeast,
    timeoutMs: 60_000,
  });
  return new Set(decodeAll(records).map((r) => r.event.event_id));
}

test('explains a re-created publication and recovers with offsets reset and replay, losing nothing', async () => {
  const s = await scenario('pub_recreated');
  const publication = quoteIdent(s.names.publication);
  const table = `${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)}`;
  try {
    const first = spawnRelay(s.env);
    await first.waitForLog('streaming');
    const before = await insert(s, 3);
    await eventIds(s, 3);
    const { rows } = await s.pool.query<{ now: string }>(
      `SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`,
    );
    const beforeDrop = rows[0]!.now;

    await s.pool.query(`DROP PUBLICATION ${publication}`);
    const whileDropped = await insert(s, 2);
    assert.equal(await first.exited, 1, 'the relay stops when the publication is gone');
    await s.pool.query(
      `CREATE PUBLICATION ${publication} FOR TABLE ${table} WITH (publish = 'insert')`,
    );
    const afterRecreate = await insert(s, 2);

    const refused = await runCli(['run'], s.env, 60_000);
    assert.equal(refused.code, 1);
    const output = refused.stdout + refused.stderr;
    assert.match(output, /created again/, output);
    assert.match(output, /offsets reset --to-now/);
    assert.match(output, /replay --from/);

    const reset = await runCli(['offsets', 'reset', '--to-now', '--yes'], s.env);
    assert.equal(reset.code, 0, reset.stdout + reset.stderr);
    const replayed = await runCli(['replay', '--from', beforeDrop], s.env);
    assert.equal(replayed.code, 0, replayed.stdout + replayed.stderr);

    const second = spawnRelay(s.env);
    await second.waitForLog('streaming');
    const later = await insert(s, 2);
    const all = [...before, ...whileDropped, ...afterRecreate, ...later];
    const received = await eventIds(s, all.length);
    assert.deepEqual(
      all.filter((id) => !received.has(id)),
      [],
      'nothing is lost',
    );
    assert.equal(await stopRelay(second), 0);
  } finally {
    await s.cleanup();
  }
});
