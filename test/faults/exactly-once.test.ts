import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planEvents, writeTransactions } from '../support/fixtures.ts';
import { spawnRelay } from '../support/relay.ts';
import { readBack, scenario, stopRelay } from '../support/scenario.ts';

test('exactly-once: after SIGKILLs mid-load a read_committed consumer sees every event once, in order', async (t) => {
  const probe = await scenario('eos');
  const s = {
    ...probe,
    env: {
      ...probe.env,
      RELAY_DELIVERY: 'exactly-once',
      RELAY_CHECKPOINT_TOPIC: `t.${probe.names.id}.checkpoints`,
    },
  };
  const transactions = planEvents({
    total: 20_000,
    aggregates: 150,
    sizes: [1, 10, 3, 100, 1, 250],
  });
  const events = transactions.flat();
  const writing = writeTransactions(s.pool, s.names, transactions);
  let relay = spawnRelay(s.env);
  let random = 11;
  try {
    for (let kill = 0; kill < 4; kill++) {
      await relay.waitForLog('streaming', 60_000);
      await new Promise((r) =>
        setTimeout(r, 300 + ((random = (random * 48271) % 2147483647) % 1500)),
      );
      relay.process.kill('SIGKILL');
      await relay.exited;
      relay = spawnRelay(s.env);
    }
    await writing;
    const committed = await readBack(s, events, 180_000, 'read_committed');
    t.diagnostic(`exactly-once, read_committed: ${JSON.stringify(committed)}`);
    assert.deepEqual(
      { lost: committed.lost, duplicated: committed.duplicated, reordered: committed.reordered },
      { lost: 0, duplicated: 0, reordered: 0 },
      `lost: ${committed.lostIds.join(', ')}`,
    );
    assert.ok(
      relay.logs.some(
        (l) => l.msg === 'exactly-once: resuming after the committed checkpoint' && l.checkpoint,
      ),
    );
  } finally {
    await stopRelay(relay);
    await s.cleanup();
  }
});
