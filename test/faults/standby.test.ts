import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planEvents, writeTransactions } from '../support/fixtures.ts';
import { readiness, spawnRelay, waitFor } from '../support/relay.ts';
import { published, readBack, scenario, stopRelay } from '../support/scenario.ts';

test('two relays on one slot: one streams, the other stands by and takes over within 10 s of a kill', async (t) => {
  const s = await scenario('standby', { RELAY_STANDBY_RETRY_MS: '1000' });
  const transactions = planEvents({ total: 10_000, aggregates: 100, sizes: [1, 30, 200] });
  const events = transactions.flat();
  const active = spawnRelay(s.env);
  await active.waitForLog('streaming');
  const standby = spawnRelay(s.env);
  try {
    await standby.waitForLog('standing by: another relay streams from the slot');
    assert.equal((await readiness(standby)).status, 'standby');
    assert.equal((await readiness(active)).status, 'ready');

    const writing = writeTransactions(s.pool, s.names, transactions);
    await waitFor(async () => (await published(active)) > 1000, 60_000, 'events to reach Kafka');
    active.process.kill('SIGKILL');
    const killedAt = Date.now();
    await standby.waitForLog('streaming', 15_000);
    const takeoverMs = Date.now() - killedAt;
    t.diagnostic(`standby took over in ${takeoverMs} ms`);
    assert.ok(takeoverMs < 10_000, `takeover took ${takeoverMs} ms`);
    await writing;

    const count = await readBack(s, events);
    t.diagnostic(`standby takeover: ${JSON.stringify(count)}`);
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0);
  } finally {
    await stopRelay(active);
    await stopRelay(standby);
    await s.cleanup();
  }
});
