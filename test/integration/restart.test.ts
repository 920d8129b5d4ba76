import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { planEvents, writeTransactions } from '../support/fixtures.ts';
import { published, readBack, scenario } from '../support/scenario.ts';
import { spawnRelay, waitFor } from '../support/relay.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** A relay streaming a 6,000-event load that is still being written, with 500+ events in Kafka. */
async function relayUnderLoad(label: string) {
  const s = await scenario(label, { RELAY_MAX_IN_FLIGHT_EVENTS: '2000' });
  cleanups.push(s.cleanup);
  const transactions = planEvents({ total: 6000, aggregates: 100, sizes: [1, 40, 7, 200, 3] });
  const first = spawnRelay(s.env);
  await first.waitForLog('streaming');
  const writing = writeTransactions(s.pool, s.names, transactions);
  await waitFor(
    async () => (await published(first)) > 500,
    60_000,
    'the first events to reach Kafka',
  );
  return { s, events: transactions.flat(), first, writing };
}

test('a relay stopped with SIGTERM mid-stream exits 0 and, restarted, loses and repeats nothing', async (t) => {
  const { s, events, first, writing } = await relayUnderLoad('restart');
  first.process.kill('SIGTERM');
  assert.equal(await first.exited, 0, 'SIGTERM exits 0');
  const stopped = first.logs.find(
    (l) => l.msg === 'stopped cleanly; Kafka holds everything up to durableLsn',
  );
  assert.ok(stopped?.durableLsn, 'the relay reports its last durable position');
  await writing;

  const second = spawnRelay(s.env);
  try {
    const count = await readBack(s, events);
    t.diagnostic(`restart: ${JSON.stringify(count)}`);
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0);
    assert.equal(count.duplicated, 0, 'a clean stop leaves nothing to replay');
  } finally {
    second.process.kill('SIGTERM');
    await second.exited;
  }
});

test('a relay killed with SIGKILL while events are in flight loses nothing after a restart', async (t) => {
  const { s, events, first, writing } = await relayUnderLoad('crash');
  first.process.kill('SIGKILL');
  await first.exited;
  await writing;

  const second = spawnRelay(s.env);
  try {
    const count = await readBack(s, events);
    t.diagnostic(`crash: ${JSON.stringify(count)}`);
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0, 'duplicates replay in order; first deliveries stay in order');
    // What was unacknowledged at the kill is replayed: the in-flight window, plus the rest of the
    // transaction being read (200 at most here), plus one socket read of WAL messages.
    assert.ok(
      count.duplicated <= 2000 + 200 + 500,
      `duplicates beyond the bound: ${count.duplicated}`,
    );
  } finally {
    second.process.kill('SIGTERM');
    await second.exited;
  }
});
