import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planEvents, services, writeTransactions } from '../support/fixtures.ts';
import { spawnRelay, waitFor } from '../support/relay.ts';
import { published, readBack, scenario, stopRelay } from '../support/scenario.ts';

test('a Postgres restart mid-load: the relay reconnects, resumes from its slot and loses nothing', async (t) => {
  const s = await scenario('pg_restart');
  const { postgres } = await services();
  const transactions = planEvents({ total: 20_000, aggregates: 150, sizes: [1, 50, 7, 300] });
  const events = transactions.flat();
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    const half = Math.floor(transactions.length / 2);
    await writeTransactions(s.pool, s.names, transactions.slice(0, half));
    await waitFor(async () => (await published(relay)) > 500, 60_000, 'events to reach Kafka');
    await postgres.restart({ force: true });
    await writeTransactions(s.pool, s.names, transactions.slice(half));

    const count = await readBack(s, events);
    t.diagnostic(`postgres restart: ${JSON.stringify(count)}`);
    if (count.lost > 0) {
      // Tells a relay loss (the rows are in the table) from a database that lost the commits.
      const { rows } = await s.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${s.names.table} WHERE id = ANY($1::uuid[])`,
        [count.lostIds],
      );
      t.diagnostic(`${rows[0]?.n} of the ${count.lost} lost events are in the outbox table`);
    }
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0);
    assert.ok(
      relay.logs.some((l) => l.msg === 'replication session ended; reconnecting'),
      'it saw the restart',
    );
  } finally {
    await stopRelay(relay);
    await s.cleanup();
  }
});
