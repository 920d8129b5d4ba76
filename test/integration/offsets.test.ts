import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLsn } from '../../src/domain/lsn.ts';
import { consumeAll, decodeAll } from '../support/consume.ts';
import { planEvents, writeTransactions, type TestEvent } from '../support/fixtures.ts';
import { runCli, spawnRelay, waitFor } from '../support/relay.ts';
import type { CliResult } from '../support/relay.ts';
import { published, scenario, stopRelay, type Scenario } from '../support/scenario.ts';
import { confirmedFlush } from '../support/slot.ts';

function offsets(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCli(['offsets', ...args], env);
}

async function offsetsJson<T>(
  args: string[],
  env: Record<string, string>,
  expectedCode = 0,
): Promise<T> {
  const result = await offsets([...args, '--json'], env);
  assert.equal(result.code, expectedCode, `exit code; stderr: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

interface ShowJson {
  confirmedFlushLsn: string;
  restartLsn: string;
  currentWalLsn: string;
  walStatus: string;
  lagBytes: number;
  lagTime: {
    seconds: number | null;
    source: string;
    oldestPending: { commitLsn: string; commitTime: string; events: number } | null;
  };
  relay: { attached: boolean; pid: number | null; applicationName: string | null };
  checkpoint?: { topic: string; topicExists: boolean; commitLsn: string | null; index: number };
}

interface ResetJson {
  applied: boolean;
  from: string;
  to: string;
  confirmedFlushLsn: string;
  walBytes: number;
  skippedEvents: { count: number; exact: boolean } | null;
  firstKept: { commitLsn: string; commitTime: string; events: number } | null;
}

/** Writes one transaction per entry of `sizes`, all on the aggregate type `order`. */
async function write(s: Scenario, sizes: number[]): Promise<TestEvent[][]> {
  const total = sizes.reduce((a, b) => a + b, 0);
  const transactions = planEvents({ total, aggregates: 3, sizes, aggregateTypes: ['order'] });
  await writeTransactions(s.pool, s.names, transactions);
  return transactions;
}

async function serverLsn(s: Scenario): Promise<bigint> {
  const { rows } = await s.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return parseLsn(rows[0]?.lsn ?? '');
}

test('show reports a fresh slot with its lag and no relay attached, and finds the oldest pending commit with --peek', async () => {
  const s = await scenario('offsets_show');
  try {
    const fresh = await offsetsJson<ShowJson>(['show'], s.env);
    assert.equal(fresh.confirmedFlushLsn, await confirmedFlush(s.pool, s.names.slot));
    assert.equal(fresh.walStatus, 'reserved');
    assert.ok(fresh.lagBytes >= 0);
    assert.equal(fresh.relay.attached, false);
    assert.deepEqual([fresh.lagTime.source, fresh.lagTime.seconds], ['unknown', null]);

    await write(s, [2, 3]);
    const peeked = await offsetsJson<ShowJson>(['show', '--peek'], s.env);
    assert.ok(peeked.lagBytes > 0);
    assert.equal(peeked.lagTime.source, 'peek');
    assert.ok((peeked.lagTime.seconds ?? -1) >= 0);
    assert.equal(peeked.lagTime.oldestPending?.events, 2);

    const text = await offsets(['show'], s.env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /relay +not attached/);
    assert.match(text.stdout, /lag in time +unknown \[unknown\]: no relay attached/);
  } finally {
    await s.cleanup();
  }
});

test('show reports the relay attached to the slot: its pid and application name', async () => {
  const s = await scenario('offsets_attached');
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    const shown = await offsetsJson<ShowJson>(['show'], s.env);
    assert.equal(shown.relay.attached, true);
    const { rows } = await s.pool.query<{ active_pid: number }>(
      'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1',
      [s.names.slot],
    );
    assert.equal(shown.relay.pid, rows[0]?.active_pid);
    assert.equal(shown.relay.applicationName, `outbox-relay:${s.names.slot}`);
    assert.equal(shown.lagTime.source, 'flush_lag');
  } finally {
    assert.equal(await stopRelay(relay), 0);
    await s.cleanup();
  }
});

test('reset refuses while a relay streams from the slot, with or without --yes', async () => {
  const s = await scenario('offsets_busy');
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    for (const args of [['--to-now'], ['--to-now', '--yes'], ['--recreate', '--yes']]) {
      const result = await offsets(['reset', ...args], s.env);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /is in use by a streaming process \(pid \d+/);
      assert.match(result.stderr, /what to do: Stop every relay/);
    }
    const { rows } = await s.pool.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
      s.names.slot,
    ]);
    assert.equal(rows.length, 1, 'the slot is still there');
  } finally {
    assert.equal(await stopRelay(relay), 0);
    await s.cleanup();
  }
});

test('reset refuses to move the slot backwards and points to replay', async () => {
  const s = await scenario('offsets_back');
  try {
    const before = await confirmedFlush(s.pool, s.names.slot);
    await write(s, [1, 1]);
    const moved = await offsetsJson<ResetJson>(['reset', '--to-now', '--yes'], s.env);
    assert.equal(moved.applied, true);
    const back = await offsets(['reset', '--to-lsn', before, '--yes'], s.env);
    assert.equal(back.code, 1, back.stderr);
    assert.match(
      back.stderr,
      /cannot move slot .* back from .* a replication slot only moves forward/,
    );
    assert.match(back.stderr, /what to do: .*"outbox-relay replay"/);
    assert.equal(await confirmedFlush(s.pool, s.names.slot), moved.confirmedFlushLsn);
  } finally {
    await s.cleanup();
  }
});

test('reset without --yes prints the plan with the events it would skip, exits 4 and changes nothing', async () => {
  const s = await scenario('offsets_dry');
  try {
    const before = await confirmedFlush(s.pool, s.names.slot);
    await write(s, [1, 2, 3]);
    const plan = await offsetsJson<ResetJson>(['reset', '--to-now'], s.env, 4);
    assert.equal(plan.applied, false);
    assert.equal(plan.from, before);
    assert.ok(plan.walBytes > 0);
    assert.deepEqual(plan.skippedEvents, { count: 6, exact: true });
    assert.equal(await confirmedFlush(s.pool, s.names.slot), before);

    const text = await offsets(['reset', '--to-now'], s.env);
    assert.equal(text.code, 4);
    assert.match(text.stdout, /would move slot .* outbox events skipped: 6/s);
    assert.match(text.stderr, /nothing changed; run again with --yes/);
    assert.equal(await confirmedFlush(s.pool, s.names.slot), before);
  } finally {
    await s.cleanup();
  }
});

test('reset rejects a missing, doubled or malformed target with exit code 2', async () => {
  const s = await scenario('offsets_usage');
  try {
    for (const args of [
      [],
      ['--to-now', '--recreate'],
      ['--to-lsn', '12'],
      ['--to-time', 'yesterday'],
      ['--to-time', '2026-01-01T00:00:00'], // no zone: ambiguous
      ['--to-time', '2999-01-01T00:00:00Z'], // the future
    ]) {
      const result = await offsets(['reset', ...args], s.env);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /what to do: /);
    }
    const missing = await offsets(['show'], { ...s.env, RELAY_SLOT: `${s.names.slot}_nope` });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist\n {2}what to do: Run "outbox-relay migrate"/);
  } finally {
    await s.cleanup();
  }
});

test('reset --to-now --yes moves the slot, and a relay started afterwards publishes only what was written after it', async () => {
  const s = await scenario('offsets_now');
  let relay: ReturnType<typeof spawnRelay> | undefined;
  try {
    await write(s, [2, 1, 2]);
    const before = parseLsn(await confirmedFlush(s.pool, s.names.slot));
    const reset = await offsetsJson<ResetJson>(['reset', '--to-now', '--yes'], s.env);
    assert.equal(reset.applied, true);
    const after = await confirmedFlush(s.pool, s.names.slot);
    assert.equal(after, reset.confirmedFlushLsn);
    assert.ok(parseLsn(after) > before);

    relay = spawnRelay(s.env);
    await relay.waitForLog('streaming');
    const [last] = (await write(s, [1])).flat();
    const records = decodeAll(
      await consumeAll({
        brokers: s.brokers,
        topics: [s.names.topic('order')],
        atLeast: 1,
        settleMs: 2000,
      }),
    );
    assert.deepEqual(
      records.map((r) => r.event.event_id),
      [last?.id],
    );
  } finally {
    if (relay) assert.equal(await stopRelay(relay), 0);
    await s.cleanup();
  }
});

test('reset --to-time moves the slot before the first outbox transaction committed at or after the time', async () => {
  const s = await scenario('offsets_time');
  try {
    await write(s, [2, 1]);
    const { rows } = await s.pool.query<{ t: string }>(
      `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`,
    );
    const time = rows[0]?.t ?? '';
    await new Promise((r) => setTimeout(r, 20));
    await write(s, [3, 1]);

    const plan = await offsetsJson<ResetJson>(['reset', '--to-time', time], s.env, 4);
    assert.deepEqual(plan.skippedEvents, { count: 3, exact: true });
    assert.equal(plan.firstKept?.events, 3);
    assert.ok(
      (plan.firstKept?.commitTime ?? '') >= time,
      `${plan.firstKept?.commitTime} >= ${time}`,
    );
    assert.equal(plan.to, plan.firstKept?.commitLsn);

    const done = await offsetsJson<ResetJson>(['reset', '--to-time', time, '--yes'], s.env);
    assert.equal(done.confirmedFlushLsn, plan.to);
    const shown = await offsetsJson<ShowJson>(['show', '--peek'], s.env);
    assert.deepEqual(shown.lagTime.oldestPending, plan.firstKept, 'the first kept one is next');
  } finally {
    await s.cleanup();
  }
});

test('reset --recreate --yes replaces the slot with a new one at the current position', async () => {
  const s = await scenario('offsets_recreate');
  try {
    await write(s, [2]);
    const before = await confirmedFlush(s.pool, s.names.slot);
    const plan = await offsets(['reset', '--recreate'], s.env);
    assert.equal(plan.code, 4, plan.stderr);
    assert.match(
      plan.stdout,
      /would drop slot .*\n.*skipped: 2\n.*DATA LOSS: .*\n.*outbox-relay replay/,
    );
    assert.equal(await confirmedFlush(s.pool, s.names.slot), before);

    const now = await serverLsn(s);
    const done = await offsetsJson<ResetJson>(['reset', '--recreate', '--yes'], s.env);
    assert.equal(done.applied, true);
    const shown = await offsetsJson<ShowJson>(['show', '--peek'], s.env);
    // An advanced slot keeps its old restart_lsn until it streams; a new one starts here.
    assert.ok(parseLsn(shown.restartLsn) >= now);
    assert.ok(parseLsn(shown.confirmedFlushLsn) >= now);
    assert.equal(shown.lagTime.oldestPending, null, 'the rows written before are not pending');
  } finally {
    await s.cleanup();
  }
});

test('with exactly-once delivery, show prints the checkpoint that the relay committed to Kafka', async () => {
  const base = await scenario('offsets_eos');
  const s = {
    ...base,
    env: {
      ...base.env,
      RELAY_DELIVERY: 'exactly-once',
      RELAY_CHECKPOINT_TOPIC: `t.${base.names.id}.checkpoints`,
    },
  };
  let relay: ReturnType<typeof spawnRelay> | undefined;
  try {
    const none = await offsetsJson<ShowJson>(['show'], s.env);
    const { rows } = await s.pool.query<{ id: string }>(
      'SELECT system_identifier::text AS id FROM pg_control_system()',
    );
    assert.deepEqual(none.checkpoint, {
      topic: s.env.RELAY_CHECKPOINT_TOPIC,
      key: `checkpoint/${rows[0]?.id}/${new URL(s.pgUrl).pathname.slice(1)}/${s.names.slot}`,
      topicExists: false,
      commitLsn: null,
      index: null,
    });

    await write(s, [2, 3]);
    relay = spawnRelay(s.env);
    const running = relay;
    await waitFor(async () => (await published(running)) >= 5, 60_000, 'five events published');
    const shown = await offsetsJson<ShowJson>(['show'], s.env);
    assert.equal(shown.checkpoint?.topicExists, true);
    assert.equal(shown.checkpoint?.index, 2, 'the last event of the 3-event transaction');
    assert.ok(parseLsn(shown.checkpoint?.commitLsn ?? '') <= parseLsn(shown.currentWalLsn));

    const text = await offsets(['show'], s.env);
    assert.match(text.stdout, /checkpoint +commit [0-9A-F]+\/[0-9A-F]+, event #2 .*read_committed/);
  } finally {
    if (relay) assert.equal(await stopRelay(relay), 0);
    await s.cleanup();
  }
});
