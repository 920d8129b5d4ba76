import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planEvents } from '../support/fixtures.ts';
import { scrape } from '../support/metrics.ts';
import { readiness, spawnRelay, waitFor } from '../support/relay.ts';
import { published, readBack, scenario, stopRelay, type Scenario } from '../support/scenario.ts';
import { writeThroughRestarts } from '../support/writer.ts';

/** Postgres ends a silent relay's walsender after this: the bound on a takeover from a frozen relay. */
const WAL_SENDER_TIMEOUT_MS = 2_000;
const STANDBY_RETRY_MS = 500;
/** Bounds one request's events, and so what a thawed at-least-once relay can send out of turn. */
const IN_FLIGHT_EVENTS = 300;

/**
 * Two relays on one slot under a paced load. The active one is frozen (SIGSTOP) past its
 * wal_sender_timeout, the standby takes over and publishes newer events, then the frozen one is
 * thawed with whatever it had in hand. Returns the count and the takeover time.
 */
async function freezeActiveRelay(s: Scenario) {
  const transactions = planEvents({ total: 15_000, aggregates: 60, sizes: [1, 5, 20, 60] });
  const events = transactions.flat();
  const active = spawnRelay(s.env);
  await active.waitForLog('streaming');
  const standby = spawnRelay(s.env);
  try {
    await standby.waitForLog('standing by: another relay streams from the slot');
    const shown = await readiness(standby);
    assert.equal(shown.status, 'standby');
    assert.equal(shown.slotHolder?.applicationName, `outbox-relay:${s.names.slot}`);
    assert.ok(typeof shown.slotHolder?.pid === 'number', JSON.stringify(shown));
    const metrics = await scrape(await standby.httpPort);
    assert.match(metrics, /outbox_relay_standby_slot_holder_start_time_seconds\{pid="\d+"/);

    const writing = writeThroughRestarts(s.pool, s.names, transactions, { eventsPerSecond: 1500 });
    await waitFor(async () => (await published(active)) > 2000, 60_000, 'events to reach Kafka');
    // A waiting standby touches nothing of the active relay (exactly-once: it fences no one).
    assert.ok(!active.logs.some((l) => l.msg === 'replication session ended; reconnecting'));
    active.process.kill('SIGSTOP');
    const frozenAt = Date.now();
    await standby.waitForLog('streaming', 30_000);
    const takeoverMs = Date.now() - frozenAt;
    // The standby publishes newer events while the frozen relay holds older ones.
    await waitFor(async () => (await published(standby)) > 2000, 60_000, 'the standby to publish');
    active.process.kill('SIGCONT');
    await waitFor(
      () =>
        Promise.resolve(
          active.logs.some(
            (l) =>
              l.msg === 'replication session ended; reconnecting' ||
              l.msg === 'lost the slot: dropping the events not yet sent',
          ),
        ),
      30_000,
      'the thawed relay to notice it lost the slot',
    );
    await writing;
    const isolation = s.env.RELAY_DELIVERY === 'exactly-once' ? 'read_committed' : undefined;
    const count = await readBack(s, events, 180_000, isolation);
    return { count, takeoverMs };
  } finally {
    active.process.kill('SIGCONT');
    await stopRelay(active);
    await stopRelay(standby);
  }
}

test('at-least-once: a relay frozen past wal_sender_timeout is taken over, and once thawed sends at most its one request in flight out of turn', async (t) => {
  const s = await scenario('zombie_alo', {
    RELAY_WAL_SENDER_TIMEOUT_MS: String(WAL_SENDER_TIMEOUT_MS),
    RELAY_STANDBY_RETRY_MS: String(STANDBY_RETRY_MS),
    RELAY_MAX_IN_FLIGHT_EVENTS: String(IN_FLIGHT_EVENTS),
  });
  try {
    const { count, takeoverMs } = await freezeActiveRelay(s);
    t.diagnostic(
      `frozen relay, at-least-once: ${JSON.stringify(count)}; takeover ${takeoverMs} ms`,
    );
    assert.deepEqual(
      { lost: count.lost, reordered: count.reordered },
      { lost: 0, reordered: 0 },
      `lost: ${count.lostIds.join(', ')}`,
    );
    // The lease is checked right before each request; a relay frozen between that check and
    // kafkajs writing the request (its encoding included) sends that one request when thawed.
    // At-least-once cannot take it back (exactly-once fences it): at most one request's events.
    assert.ok(
      count.strays <= IN_FLIGHT_EVENTS,
      `${count.strays} events out of turn: more than one request of at most ${IN_FLIGHT_EVENTS}`,
    );
    assert.ok(
      takeoverMs < WAL_SENDER_TIMEOUT_MS + STANDBY_RETRY_MS + 5_000,
      `takeover took ${takeoverMs} ms`,
    );
  } finally {
    await s.cleanup();
  }
});

test('exactly-once: a frozen relay thawed after the takeover commits nothing; read_committed sees every event once', async (t) => {
  const base = await scenario('zombie_eos', {
    RELAY_WAL_SENDER_TIMEOUT_MS: String(WAL_SENDER_TIMEOUT_MS),
    RELAY_STANDBY_RETRY_MS: String(STANDBY_RETRY_MS),
    RELAY_DELIVERY: 'exactly-once',
  });
  const s = {
    ...base,
    env: { ...base.env, RELAY_CHECKPOINT_TOPIC: `t.${base.names.id}.checkpoints` },
  };
  try {
    const { count, takeoverMs } = await freezeActiveRelay(s);
    t.diagnostic(`frozen relay, exactly-once: ${JSON.stringify(count)}; takeover ${takeoverMs} ms`);
    assert.deepEqual(
      { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
      { lost: 0, duplicated: 0, reordered: 0 },
      `lost: ${count.lostIds.join(', ')}`,
    );
  } finally {
    await s.cleanup();
  }
});
