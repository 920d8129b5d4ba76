import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { consumeAll } from '../support/consume.ts';
import { planEvents, writeTransactions, type TestEvent } from '../support/fixtures.ts';
import { countWithJava } from '../support/java-reader.ts';
import { runCli, spawnRelay, startRelayInProcess, waitFor } from '../support/relay.ts';
import { scenario, type Scenario } from '../support/scenario.ts';
import { writeThroughRestarts } from '../support/writer.ts';
import { SNAPSHOT_HEADER } from '../../src/admin/snapshot.ts';

const PRE_EXISTING = 5000;
const WRITTEN_DURING = 8000;

/** 5,000 rows in the outbox before any slot, and up to 8,000 more of the same aggregates to write after. */
function plan() {
  const transactions = planEvents({
    total: PRE_EXISTING + WRITTEN_DURING,
    aggregates: 150,
    sizes: [1, 40, 3, 17, 1, 1, 9, 60, 2],
  });
  let count = 0;
  const before = transactions.filter((tx) => (count += tx.length) <= PRE_EXISTING);
  return { before, during: transactions.slice(before.length), all: transactions.flat() };
}

const scenarios: Scenario[] = [];
after(async () => {
  for (const s of scenarios) await s.cleanup();
});

async function outboxWithoutSlot(label: string, env: Record<string, string> = {}) {
  const s = await scenario(label, env, { slot: false });
  scenarios.push(s);
  const events = plan();
  await writeTransactions(s.pool, s.names, events.before);
  return { s, events };
}

function slotExists(pool: pg.Pool, slot: string): Promise<boolean> {
  return pool
    .query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot])
    .then((r) => r.rows.length > 0);
}

function temporarySlots(pool: pg.Pool, slot: string): Promise<number> {
  return pool
    .query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_replication_slots WHERE slot_name LIKE $1 || '\\_snap\\_%'",
      [slot],
    )
    .then((r) => r.rows[0]?.n ?? 0);
}

const topicOf = (s: Scenario) => (e: TestEvent) => s.names.topic(e.aggregateType);

test('RELAY_SNAPSHOT=initial publishes the rows already in the outbox, then streams from where they end: none lost, none twice, each aggregate in order', async () => {
  const { s, events } = await outboxWithoutSlot('snap_run', { RELAY_SNAPSHOT: 'initial' });
  // The writer commits before, while and after the snapshot is exported, read and published,
  // until a second after the slot exists.
  const stop = new AbortController();
  const writer = writeThroughRestarts(s.pool, s.names, events.during, {
    eventsPerSecond: 400,
    signal: stop.signal,
  });
  const relay = startRelayInProcess(s.env);
  try {
    await waitFor(() => relay.health.ready().ok, 60_000, 'the relay to stream');
    await sleep(1000);
    stop.abort();
    const { written } = await writer;
    const expected = [...events.before.flat(), ...events.during.flat().slice(0, written)];
    const count = await countWithJava(s.brokers, topicOf(s), expected, { timeoutMs: 60_000 });
    assert.deepEqual(
      { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
      { lost: 0, duplicated: 0, reordered: 0 },
      JSON.stringify(count),
    );
    assert.equal(count.undecodable + count.wrongKey + count.wrongPartition, 0);
    assert.equal(count.received, expected.length);
    assert.equal(await temporarySlots(s.pool, s.names.slot), 0, 'the temporary slot is gone');

    // Every pre-existing row came from the snapshot; only rows written meanwhile can be streamed.
    const topics = [...new Set(events.all.map(topicOf(s)))];
    const records = await consumeAll({ brokers: s.brokers, topics, atLeast: expected.length });
    const marked = new Set(
      records.filter((r) => r.headers[SNAPSHOT_HEADER] === 'true').map((r) => r.headers.event_id),
    );
    const before = events.before.flat();
    assert.equal(before.filter((e) => !marked.has(e.id)).length, 0);
    const streamed = expected.length - marked.size;
    const duringInSnapshot = marked.size - before.length;
    console.log(
      `snapshot: ${before.length} rows before, ${written} written meanwhile; ${marked.size} published from the snapshot (${duringInSnapshot} of them written meanwhile), ${streamed} streamed`,
    );
    assert.ok(
      duringInSnapshot > 0 && streamed > 0,
      'the writer committed on both sides of the snapshot',
    );
  } finally {
    await relay.stop();
  }
});

test('migrate --snapshot publishes the outbox then creates the slot; run again, it publishes nothing', async () => {
  const { s, events } = await outboxWithoutSlot('snap_migrate');
  const migrated = await runCli(['migrate', '--snapshot', '--json'], s.env);
  assert.equal(migrated.code, 0, migrated.stderr);
  const summary = JSON.parse(migrated.stdout) as {
    slotCreated: boolean;
    snapshot: { sent: number; order: string };
  };
  assert.equal(summary.slotCreated, true);
  assert.equal(summary.snapshot.sent, events.before.flat().length);
  assert.equal(summary.snapshot.order, 'commit');
  const again = await runCli(['migrate', '--snapshot', '--json'], s.env);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { snapshot?: unknown }).snapshot, undefined);

  const relay = startRelayInProcess(s.env);
  try {
    await writeTransactions(s.pool, s.names, events.during);
    const count = await countWithJava(s.brokers, topicOf(s), events.all, { timeoutMs: 60_000 });
    assert.deepEqual(
      { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
      { lost: 0, duplicated: 0, reordered: 0 },
      JSON.stringify(count),
    );
  } finally {
    await relay.stop();
  }
});

test('a relay killed (SIGKILL) mid-snapshot left no slot; the next one snapshots again: none lost, duplicates at most one snapshot', async () => {
  const { s, events } = await outboxWithoutSlot('snap_kill', {
    RELAY_SNAPSHOT: 'initial',
    RELAY_BATCH_MAX_EVENTS: '50', // a slower snapshot, so that the kill lands inside it
  });
  const first = spawnRelay(s.env);
  await first.waitForLog('the slot is missing: publishing the outbox snapshot');
  await waitFor(
    async () => (await temporarySlots(s.pool, s.names.slot)) > 0,
    10_000,
    'the temporary slot',
  );
  await sleep(300);
  first.process.kill('SIGKILL');
  await first.exited;
  assert.equal(await slotExists(s.pool, s.names.slot), false, 'the kill came before the slot');
  await waitFor(
    async () => (await temporarySlots(s.pool, s.names.slot)) === 0,
    10_000,
    'the temporary slot to go',
  );

  const second = startRelayInProcess(s.env);
  try {
    await writeTransactions(s.pool, s.names, events.during);
    const count = await countWithJava(s.brokers, topicOf(s), events.all, { timeoutMs: 60_000 });
    console.log(`kill mid-snapshot: ${JSON.stringify({ ...count, lostIds: undefined })}`);
    assert.equal(count.lost, 0, JSON.stringify(count));
    assert.equal(count.reordered, 0, JSON.stringify(count));
    assert.equal(count.strays, 0, JSON.stringify(count));
    assert.ok(count.duplicated > 0, 'the first relay published part of its snapshot');
    assert.ok(count.duplicated < PRE_EXISTING, `duplicates: ${count.duplicated}`);
  } finally {
    await second.stop();
  }
});

test('RELAY_SNAPSHOT=initial is refused with exactly-once delivery (exit 2), naming both settings', async () => {
  const { s } = await outboxWithoutSlot('snap_eos');
  const result = await runCli(['run'], {
    ...s.env,
    RELAY_SNAPSHOT: 'initial',
    RELAY_DELIVERY: 'exactly-once',
  });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /RELAY_SNAPSHOT=initial.*RELAY_DELIVERY=exactly-once/);
  assert.equal(await slotExists(s.pool, s.names.slot), false);
});
