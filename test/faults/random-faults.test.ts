/**
 * Faults the known cases did not think of: a seeded mix of relay SIGKILLs and SIGTERMs, broker
 * outages, fast and immediate Postgres restarts and harmless DDL on the outbox, under a running
 * writer, counted at the end by Kafka's Java consumer and Apache Avro Java.
 *
 * The seed is printed; FAULT_SEED=<seed> replays a schedule, FAULT_COUNT sets its length (CI runs
 * a short one; run a long one by hand). A failing seed becomes a named test below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { quoteIdent } from '../../src/db/sql.ts';
import { planEvents, services } from '../support/fixtures.ts';
import { countWithJava } from '../support/java-reader.ts';
import { spawnRelay, waitFor, type RelayChild } from '../support/relay.ts';
import { scenario, stopRelay, type Scenario } from '../support/scenario.ts';
import { faultSeed, seeded } from '../support/seeded.ts';
import { writeThroughRestarts } from '../support/writer.ts';

const FAULTS = [
  'relay-kill',
  'relay-term',
  'broker-outage',
  'pg-fast',
  'pg-immediate',
  'ddl',
] as const;
type Fault = (typeof FAULTS)[number];
const SHUTDOWN_TIMEOUT_MS = 10_000;
/** A clean stop must end within the shutdown timeout plus this, whatever is pending. */
const EXIT_MARGIN_MS = 5_000;

async function runSchedule(t: test.TestContext, seed: number, count: number): Promise<void> {
  const random = seeded(seed);
  const schedule: Fault[] = Array.from(
    { length: count },
    () => FAULTS[Math.floor(random() * FAULTS.length)] as Fault,
  );
  t.diagnostic(
    `seed ${seed} (replay with FAULT_SEED=${seed} FAULT_COUNT=${count}): ${schedule.join(',')}`,
  );
  const s = await scenario('random_faults', {
    RELAY_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  });
  const { postgres, kafka } = await services();
  const transactions = planEvents({
    total: 20_000 + 2_000 * count,
    aggregates: 120,
    sizes: [1, 30, 5, 400, 2],
  });
  const events = transactions.flat();
  let relay = spawnRelay(s.env);
  const stopWriting = new AbortController();
  const exits: string[] = [];
  try {
    await relay.waitForLog('streaming');
    const writing = writeThroughRestarts(s.pool, s.names, transactions, {
      eventsPerSecond: 1_500,
      signal: stopWriting.signal,
    });
    for (const [n, fault] of schedule.entries()) {
      await sleep(300 + random() * 2_000);
      relay = await inject(fault, n, { s, relay, random, exits, postgres, kafka });
    }
    const writer = await writing;
    t.diagnostic(`writer: ${JSON.stringify(writer)}`);
    const count_ = await countWithJava(s.brokers, (e) => s.names.topic(e.aggregateType), events, {
      timeoutMs: 180_000,
    });
    t.diagnostic(
      `seed ${seed}: ${JSON.stringify(count_)}; clean stops: ${exits.join(', ') || 'none'}`,
    );
    assert.equal(count_.lost, 0, `lost (seed ${seed}): ${count_.lostIds.join(', ')}`);
    assert.equal(count_.reordered, 0, `reordered (seed ${seed})`);
    assert.equal(count_.undecodable, 0, 'every record decodes with Avro Java');
    assert.equal(count_.wrongPartition, 0, "every record is on Java's partition for its key");
    assert.equal(count_.wrongKey, 0, 'every key is its aggregate id');
  } finally {
    stopWriting.abort();
    await kafka.start().catch(() => undefined);
    await stopRelay(relay);
    await s.cleanup();
  }
}

interface FaultContext {
  s: Scenario;
  relay: RelayChild;
  random: () => number;
  exits: string[];
  postgres: Awaited<ReturnType<typeof services>>['postgres'];
  kafka: Awaited<ReturnType<typeof services>>['kafka'];
}

/**
 * A new relay, once it streams or stands by (the old one's walsender may not have let go of the
 * slot yet). Only then are its signal handlers in place: a SIGTERM during Node's start ends the
 * process by the signal, having done nothing.
 */
async function respawn(s: Scenario): Promise<RelayChild> {
  const relay = spawnRelay(s.env);
  const up = (l: Record<string, unknown>) =>
    l.msg === 'streaming' || String(l.msg).startsWith('standing by');
  await waitFor(() => relay.logs.some(up), 60_000, 'the new relay to stream or stand by');
  return relay;
}

/** Injects one fault and returns the relay that runs afterwards. */
async function inject(fault: Fault, n: number, c: FaultContext): Promise<RelayChild> {
  switch (fault) {
    case 'relay-kill':
      c.relay.process.kill('SIGKILL');
      await c.relay.exited;
      return respawn(c.s);
    case 'relay-term': {
      const started = Date.now();
      c.relay.process.kill('SIGTERM');
      const code = await c.relay.exited;
      const ms = Date.now() - started;
      c.exits.push(`${code} in ${ms} ms`);
      assert.equal(code, 0, 'SIGTERM with the broker and Postgres up exits 0');
      assert.ok(ms < SHUTDOWN_TIMEOUT_MS + EXIT_MARGIN_MS, `SIGTERM exit took ${ms} ms`);
      return respawn(c.s);
    }
    case 'broker-outage':
      await c.kafka.stop();
      await sleep(1_000 + c.random() * 5_000);
      await c.kafka.start();
      return c.relay;
    case 'pg-fast':
    case 'pg-immediate':
      await c.postgres.restart({ force: fault === 'pg-immediate' });
      return c.relay;
    case 'ddl': {
      const table = `${quoteIdent(c.s.names.schema)}.${quoteIdent(c.s.names.table)}`;
      const sql = `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${quoteIdent(`extra_${n}`)} text`;
      // The pool may still hold a connection from before a Postgres restart: try again once.
      await c.s.pool.query(sql).catch(() => c.s.pool.query(sql));
      return c.relay;
    }
  }
}

test('a seeded mix of crashes, stops, broker outages, Postgres restarts and DDL loses and reorders nothing', async (t) => {
  await runSchedule(t, faultSeed(), Number(process.env.FAULT_COUNT ?? 8));
});
