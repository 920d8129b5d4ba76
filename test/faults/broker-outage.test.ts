import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planEvents, services, writeTransactions } from '../support/fixtures.ts';
import { spawnRelay, waitFor } from '../support/relay.ts';
import { published, readBack, scenario, stopRelay } from '../support/scenario.ts';

async function readyStatus(port: number): Promise<number> {
  return fetch(`http://127.0.0.1:${port}/readyz`).then(
    (r) => r.status,
    () => 0,
  );
}

test('a 20 s broker outage mid-load: not ready while it lasts, recovers alone, loses and reorders nothing', async (t) => {
  const s = await scenario('broker_outage');
  const { kafka } = await services();
  const transactions = planEvents({ total: 20_000, aggregates: 150, sizes: [1, 20, 5, 100] });
  const events = transactions.flat();
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    const port = await relay.httpPort;
    const half = Math.floor(transactions.length / 2);
    await writeTransactions(s.pool, s.names, transactions.slice(0, half));
    await waitFor(async () => (await published(relay)) > 1000, 60_000, 'events to reach Kafka');

    await kafka.stop();
    const outageStart = Date.now();
    // Writes go on while the broker is away; they wait in the WAL, not in the relay.
    await writeTransactions(s.pool, s.names, transactions.slice(half));
    await waitFor(
      async () => (await readyStatus(port)) === 503,
      30_000,
      '/readyz to report not ready',
    );
    const during = (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.json())) as {
      status: string;
    };
    assert.equal(during.status, 'degraded');
    assert.equal(
      (await fetch(`http://127.0.0.1:${port}/healthz`)).status,
      200,
      'alive: it keeps retrying',
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - outageStart))));
    await kafka.start();

    await waitFor(async () => (await readyStatus(port)) === 200, 60_000, '/readyz to recover');
    const count = await readBack(s, events);
    t.diagnostic(`broker outage: ${JSON.stringify(count)}`);
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0);
  } finally {
    await kafka.start();
    await stopRelay(relay);
    await s.cleanup();
  }
});
