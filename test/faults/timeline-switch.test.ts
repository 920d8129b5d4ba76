/**
 * A standby promoted without the old primary's last transactions starts a new timeline whose
 * LSNs overlap what the old primary had sent. The exactly-once checkpoint written on the old
 * timeline must count only up to where the new history left it: otherwise the new primary's
 * first transactions, at LSNs below the old checkpoint, would be skipped as "already in Kafka".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import {
  localPostgresControl,
  removeLocalPostgres,
  startLocalPostgres,
} from '../../scripts/services/postgres.ts';
import type { LocalPostgresState } from '../../scripts/services/types.ts';
import {
  dropOutbox,
  planEvents,
  prepareOutbox,
  services,
  uniqueNames,
  writeTransactions,
  type TestEvent,
} from '../support/fixtures.ts';
import { coldCopy, promote, sql, urlOf } from '../support/promote.ts';
import { relayEnv, spawnRelay } from '../support/relay.ts';
import { readBack, stopRelay, type Scenario } from '../support/scenario.ts';

async function timeline(url: string): Promise<number> {
  const rows = await sql<{ tli: number }>(
    url,
    'SELECT timeline_id AS tli FROM pg_control_checkpoint()',
  );
  return Number(rows[0]?.tli);
}

async function write(url: string, names: Scenario['names'], transactions: TestEvent[][]) {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await writeTransactions(pool, names, transactions);
  } finally {
    await pool.end();
  }
}

test('exactly-once across a promoted standby: the old timeline’s checkpoint counts only up to the switch point, so the new primary’s events are all published', async (t) => {
  const { kafkaBrokers } = await services();
  const names = uniqueNames('timeline');
  const primary = await startLocalPostgres();
  let copy: LocalPostgresState | null = null;
  const env = (url: string) =>
    relayEnv(url, kafkaBrokers, names, {
      RELAY_DELIVERY: 'exactly-once',
      RELAY_CHECKPOINT_TOPIC: `t.${names.id}.checkpoints`,
    });
  // One plan, so that each aggregate's sequence runs on across the three parts.
  const plan = planEvents({ total: 3_040, aggregates: 20, sizes: [20, 3_000, 20] });
  const [before, lostWithPrimary, afterPromotion] = [
    plan.slice(0, 1),
    plan.slice(1, 2),
    plan.slice(2),
  ];
  const reader = (url: string) =>
    ({ names, brokers: kafkaBrokers, pgUrl: url }) as unknown as Scenario;
  try {
    const primaryUrl = urlOf(primary.port);
    await prepareOutbox(primaryUrl, names);
    await write(primaryUrl, names, before);
    let relay = spawnRelay(env(primaryUrl));
    await readBack(reader(primaryUrl), before.flat(), 60_000, 'read_committed');
    await stopRelay(relay);

    // The standby's copy ends here: it never receives what the primary commits next.
    await localPostgresControl(primary).stop();
    const copyDir = await coldCopy(primary);
    await localPostgresControl(primary).start();
    relay = spawnRelay(env(primaryUrl));
    await write(primaryUrl, names, lostWithPrimary);
    await readBack(
      reader(primaryUrl),
      [...before, ...lostWithPrimary].flat(),
      120_000,
      'read_committed',
    );
    await stopRelay(relay);
    await localPostgresControl(primary).stop();

    copy = await promote(primary, copyDir);
    const copyUrl = urlOf(copy.port);
    assert.equal(await timeline(copyUrl), 2, 'the copy was promoted to timeline 2');

    await write(copyUrl, names, afterPromotion);
    relay = spawnRelay(env(copyUrl));
    try {
      const count = await readBack(reader(copyUrl), plan.flat(), 60_000, 'read_committed');
      t.diagnostic(`after the switch: ${JSON.stringify(count)}`);
      if (count.lost > 0)
        t.diagnostic(relay.logs.map((l) => JSON.stringify(l).slice(0, 600)).join('\n'));
      assert.deepEqual(
        { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
        { lost: 0, duplicated: 0, reordered: 0 },
        `lost: ${count.lostIds.join(', ')}`,
      );
      const capped = relay.logs.find((l) =>
        String(l.msg).startsWith('the checkpoint was written on an earlier timeline'),
      );
      assert.ok(capped, 'it said the checkpoint was capped at the switch point');
      t.diagnostic(`capped: ${JSON.stringify(capped)}`);
    } finally {
      await stopRelay(relay);
    }
  } finally {
    if (copy) {
      await dropOutbox(urlOf(copy.port), names).catch(() => undefined);
      await removeLocalPostgres(copy).catch(() => undefined);
      await rm(join(copy.dir, '..'), { recursive: true, force: true });
    }
    await removeLocalPostgres(primary).catch(() => undefined);
  }
});
