/**
 * How the daemon ends, through the real CLI: every stop ends the process with its documented exit
 * code within its documented bound, whatever is still pending (kafkajs retries, sockets, timers).
 * Times are measured from the signal (or the fault) to the child's exit, as a supervisor sees them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { CLOSE_BOUND_MS } from '../../src/ops/lifecycle.ts';
import { planEvents, services, writeTransactions } from '../support/fixtures.ts';
import { metricTotal, scrape } from '../support/metrics.ts';
import { spawnRelay, waitFor, type RelayChild } from '../support/relay.ts';
import { published, readBack, scenario, stopRelay } from '../support/scenario.ts';

/** RELAY_SHUTDOWN_TIMEOUT_MS in these tests: short, so that waiting for it is cheap. */
const SHUTDOWN_TIMEOUT_MS = 3000;
/**
 * Scheduling slack on a shared 2-core machine, between our kill() and the child's timers, and
 * between its exit and our 'exit' event. Not part of the relay's bound.
 */
const SLACK_MS = 3000;
/** A relay that has not exited by then never will (the old behaviour): kill it and fail. */
const GIVE_UP_MS = 60_000;

interface Ending {
  code: number | null;
  ms: number;
}

/** Waits for the relay to exit, measured from `since`; SIGKILLs it after GIVE_UP_MS. */
async function ending(relay: RelayChild, since: number): Promise<Ending> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'gave up'>((resolve) => {
    timer = setTimeout(() => resolve('gave up'), GIVE_UP_MS);
  });
  const outcome = await Promise.race([relay.exited, gaveUp]);
  clearTimeout(timer);
  if (outcome === 'gave up') {
    relay.process.kill('SIGKILL');
    await relay.exited;
    assert.fail(`the relay was still running ${GIVE_UP_MS} ms later; SIGKILLed`);
  }
  return { code: outcome, ms: Date.now() - since };
}

async function signal(relay: RelayChild, name: NodeJS.Signals = 'SIGTERM'): Promise<Ending> {
  const sentAt = Date.now();
  relay.process.kill(name);
  return ending(relay, sentAt);
}

async function inFlight(relay: RelayChild): Promise<number> {
  const text = await scrape(await relay.httpPort).catch(() => '');
  return metricTotal(text, 'outbox_relay_in_flight_events');
}

function logged(relay: RelayChild, msg: string): Record<string, unknown> | undefined {
  return relay.logs.find((l) => l.msg === msg);
}

const TIMED_OUT = 'shutdown timed out; unacknowledged events are sent again after a restart';

test('SIGTERM while the broker is down with events in flight exits 3 within RELAY_SHUTDOWN_TIMEOUT_MS plus the close bound, and a restart loses nothing', async (t) => {
  const s = await scenario('lc_broker_down', {
    RELAY_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  });
  const { kafka } = await services();
  const transactions = planEvents({ total: 400, aggregates: 20, sizes: [1, 10, 3] });
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    await writeTransactions(s.pool, s.names, transactions.slice(0, 10));
    await waitFor(async () => (await published(relay)) > 0, 60_000, 'events to reach Kafka');
    await kafka.stop();
    await writeTransactions(s.pool, s.names, transactions.slice(10));
    await waitFor(async () => (await inFlight(relay)) > 0, 30_000, 'events waiting for Kafka');

    const { code, ms } = await signal(relay);
    t.diagnostic(`broker down: exit ${code} after ${ms} ms`);
    assert.equal(code, 3, 'exit 3: the stop did not finish in time');
    assert.ok(ms >= SHUTDOWN_TIMEOUT_MS, `exited after ${ms} ms, before the timeout`);
    assert.ok(
      ms <= SHUTDOWN_TIMEOUT_MS + CLOSE_BOUND_MS + SLACK_MS,
      `exited after ${ms} ms; bound ${SHUTDOWN_TIMEOUT_MS} + ${CLOSE_BOUND_MS} ms`,
    );
    assert.ok(logged(relay, TIMED_OUT), 'it says why');

    await kafka.start();
    const second = spawnRelay(s.env);
    try {
      const count = await readBack(s, transactions.flat());
      t.diagnostic(`after the restart: ${JSON.stringify(count)}`);
      assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
      assert.equal(count.reordered, 0);
    } finally {
      await stopRelay(second);
    }
  } finally {
    await kafka.start();
    await stopRelay(relay);
    await s.cleanup();
  }
});

test('SIGTERM while reading is paused by backpressure mid-transaction exits 3 within the bound, and the transaction is read again after a restart', async (t) => {
  const s = await scenario('lc_paused', {
    RELAY_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    RELAY_MAX_IN_FLIGHT_EVENTS: '100',
  });
  const { kafka } = await services();
  const transactions = planEvents({ total: 5000, aggregates: 50, sizes: [5000] });
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    await kafka.stop();
    await writeTransactions(s.pool, s.names, transactions);
    await waitFor(
      async () => (await inFlight(relay)) >= 100,
      30_000,
      'the in-flight window to fill (reading paused)',
    );

    const { code, ms } = await signal(relay);
    t.diagnostic(`paused: exit ${code} after ${ms} ms`);
    assert.equal(code, 3);
    assert.ok(
      ms <= SHUTDOWN_TIMEOUT_MS + CLOSE_BOUND_MS + SLACK_MS,
      `exited after ${ms} ms; bound ${SHUTDOWN_TIMEOUT_MS} + ${CLOSE_BOUND_MS} ms`,
    );

    await kafka.start();
    const second = spawnRelay(s.env);
    try {
      const count = await readBack(s, transactions.flat());
      t.diagnostic(`after the restart: ${JSON.stringify(count)}`);
      assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
      assert.equal(count.reordered, 0);
    } finally {
      await stopRelay(second);
    }
  } finally {
    await kafka.start();
    await stopRelay(relay);
    await s.cleanup();
  }
});

test('a second SIGTERM cuts the wait short: exit 3 within the close bound', async (t) => {
  const s = await scenario('lc_second_signal', { RELAY_SHUTDOWN_TIMEOUT_MS: '60000' });
  const { kafka } = await services();
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    await kafka.stop();
    await writeTransactions(s.pool, s.names, planEvents({ total: 50, aggregates: 5, sizes: [5] }));
    await waitFor(async () => (await inFlight(relay)) > 0, 30_000, 'events waiting for Kafka');
    relay.process.kill('SIGTERM');
    await relay.waitForLog('stopping: finishing in-flight events');
    const { code, ms } = await signal(relay, 'SIGINT');
    t.diagnostic(`second signal: exit ${code} after ${ms} ms`);
    assert.equal(code, 3);
    assert.ok(ms <= CLOSE_BOUND_MS + SLACK_MS, `exited ${ms} ms after the second signal`);
  } finally {
    await kafka.start();
    await stopRelay(relay);
    await s.cleanup();
  }
});

/** Ends the relay's walsender and drops the slot before the relay reconnects. */
async function dropSlotUnderRelay(pool: pg.Pool, slot: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    await pool.query(
      `SELECT pg_terminate_backend(active_pid, 5000) FROM pg_replication_slots
        WHERE slot_name = $1 AND active_pid IS NOT NULL`,
      [slot],
    );
    try {
      await pool.query('SELECT pg_drop_replication_slot($1)', [slot]);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '55006') throw error; // 55006: active again
    }
  }
  assert.fail(`could not drop slot ${slot}: the relay kept taking it back`);
}

test('a replication slot dropped under a running relay ends it with exit 1, naming the slot and the fix', async (t) => {
  const s = await scenario('lc_slot_dropped');
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    await writeTransactions(s.pool, s.names, planEvents({ total: 20, aggregates: 5, sizes: [4] }));
    await waitFor(async () => (await published(relay)) >= 20, 60_000, 'events to reach Kafka');
    await dropSlotUnderRelay(s.pool, s.names.slot);
    const droppedAt = Date.now();

    const { code, ms } = await ending(relay, droppedAt);
    t.diagnostic(`slot dropped: exit ${code} after ${ms} ms`);
    assert.equal(code, 1);
    // The relay meets the missing slot at its next reconnect (500 ms after the first loss, a
    // little more if it had already reconnected once), then closes within the bound.
    assert.ok(ms <= 2000 + CLOSE_BOUND_MS + SLACK_MS, `exited ${ms} ms after the drop`);
    const fatal = relay.logs.find((l) => l.level === 'fatal') as
      { err?: { message?: string; hint?: string } } | undefined;
    assert.ok(fatal?.err?.message?.includes(s.names.slot), 'the message names the slot');
    assert.match(fatal?.err?.hint ?? '', /replay/, 'the hint says how to recover the gap');
  } finally {
    await stopRelay(relay);
    await s.cleanup();
  }
});

test('SIGTERM while Postgres is down exits within the bound, with 0 when Kafka holds everything read', async (t) => {
  const s = await scenario('lc_pg_down', {
    RELAY_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  });
  const { postgres } = await services();
  const transactions = planEvents({ total: 2000, aggregates: 50, sizes: [1, 40, 7] });
  const relay = spawnRelay(s.env);
  try {
    await relay.waitForLog('streaming');
    await writeTransactions(s.pool, s.names, transactions);
    await waitFor(async () => (await published(relay)) > 0, 60_000, 'events to reach Kafka');
    await postgres.stop();
    await relay.waitForLog('replication session ended; reconnecting');

    const { code, ms } = await signal(relay);
    t.diagnostic(`postgres down: exit ${code} after ${ms} ms`);
    assert.equal(code, 0, 'nothing was left unacknowledged');
    assert.ok(
      ms <= SHUTDOWN_TIMEOUT_MS + CLOSE_BOUND_MS + SLACK_MS,
      `exited after ${ms} ms; bound ${SHUTDOWN_TIMEOUT_MS} + ${CLOSE_BOUND_MS} ms`,
    );

    await postgres.start();
    const second = spawnRelay(s.env);
    try {
      const count = await readBack(s, transactions.flat());
      t.diagnostic(`after the restart: ${JSON.stringify(count)}`);
      assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    } finally {
      await stopRelay(second);
    }
  } finally {
    await postgres.start();
    await stopRelay(relay);
    await s.cleanup();
  }
});
