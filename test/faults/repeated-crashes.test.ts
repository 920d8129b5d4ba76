import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planEvents, writeTransactions } from '../support/fixtures.ts';
import { spawnRelay } from '../support/relay.ts';
import { readBack, scenario, stopRelay } from '../support/scenario.ts';

const KILLS = 10;
const WINDOW = 2000;

test('ten SIGKILLs at random moments during a 50,000-event load lose nothing and reorder nothing', async (t) => {
  const s = await scenario('crashes', { RELAY_MAX_IN_FLIGHT_EVENTS: String(WINDOW) });
  const transactions = planEvents({
    total: 50_000,
    aggregates: 200,
    sizes: [1, 10, 3, 100, 1, 250],
  });
  const events = transactions.flat();
  let random = 7;
  const nextDelay = () => 300 + ((random = (random * 48271) % 2147483647) % 1200);
  const writing = writeTransactions(s.pool, s.names, transactions);
  let relay = spawnRelay(s.env);
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      await relay.waitForLog('streaming');
      await new Promise((r) => setTimeout(r, nextDelay()));
      relay.process.kill('SIGKILL');
      await relay.exited;
      relay = spawnRelay(s.env);
    }
    await writing;
    const count = await readBack(s, events, 180_000);
    t.diagnostic(`repeated crashes: ${JSON.stringify(count)}`);
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0);
    // Each crash replays at most what was unacknowledged: the window, the rest of the
    // transaction being read (250 here) and one socket read of WAL (bounded by 500 here).
    assert.ok(count.duplicated <= KILLS * (WINDOW + 250 + 500), `duplicates: ${count.duplicated}`);
  } finally {
    await stopRelay(relay);
    await s.cleanup();
  }
});
