import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { planEvents, services } from '../support/fixtures.ts';
import { metricTotal, scrape } from '../support/metrics.ts';
import { spawnRelay, waitFor, type RelayChild } from '../support/relay.ts';
import { published, readBack, scenario, stopRelay } from '../support/scenario.ts';
import { writeThroughRestarts } from '../support/writer.ts';
import { faultSeed, seeded } from '../support/seeded.ts';

const sessions = (relay: RelayChild) => relay.logs.filter((l) => l.msg === 'streaming').length;

test('fast and immediate Postgres restarts under a running writer: nothing lost, reordered or sent twice', async (t) => {
  const seed = faultSeed();
  const perMode = Number(process.env.FAULT_PG_RESTARTS ?? 6);
  t.diagnostic(`seed ${seed} (replay with FAULT_SEED=${seed}), ${perMode} restarts of each mode`);
  const random = seeded(seed);
  const modes = [
    ...Array<'fast'>(perMode).fill('fast'),
    ...Array<'immediate'>(perMode).fill('immediate'),
  ]
    .map((mode) => ({ mode, order: random() }))
    .sort((a, b) => a.order - b.order)
    .map((m) => m.mode);

  const s = await scenario('pg_restarts');
  const { postgres } = await services();
  const transactions = planEvents({ total: 60_000, aggregates: 150, sizes: [1, 40, 7, 500, 3] });
  const events = transactions.flat();
  const relay = spawnRelay(s.env);
  const stopWriting = new AbortController();
  try {
    await relay.waitForLog('streaming');
    const writing = writeThroughRestarts(s.pool, s.names, transactions, {
      eventsPerSecond: 1_500,
      signal: stopWriting.signal,
    });
    for (const mode of modes) {
      const before = sessions(relay);
      await sleep(300 + random() * 1_700);
      await postgres.restart({ force: mode === 'immediate' });
      await waitFor(
        () => sessions(relay) > before,
        60_000,
        `the relay to stream again after a ${mode} restart`,
      );
    }
    const writer = await writing;
    t.diagnostic(`writer: ${JSON.stringify(writer)}`);
    assert.equal(writer.written, events.length, 'the writer wrote the whole plan');

    const count = await readBack(s, events);
    const metrics = await scrape(await relay.httpPort);
    const skipped = metricTotal(metrics, 'outbox_relay_skipped_already_delivered_total');
    t.diagnostic(
      `${modes.join(',')}: ${JSON.stringify(count)}; skipped as already delivered: ${skipped}`,
    );
    if (process.env.FAULT_LOG_FILE)
      writeFileSync(
        process.env.FAULT_LOG_FILE,
        relay.logs.map((l) => JSON.stringify(l)).join('\n'),
      );
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0);
    assert.ok(count.duplicated <= 100, `${count.duplicated} duplicates (at most 100)`);
    assert.ok(
      relay.logs.some((l) => String(l.msg).startsWith('Postgres offers the slot from before')),
      'it saw Postgres offer an older position and said so',
    );
  } finally {
    stopWriting.abort();
    await stopRelay(relay);
    await s.cleanup();
  }
});

test('a relay killed while Postgres is down resumes from the position it kept in Kafka: at most one interval is sent again', async (t) => {
  const intervalMs = 500;
  const s = await scenario('pg_relay_down', { RELAY_POSITION_INTERVAL_MS: String(intervalMs) });
  const { postgres } = await services();
  const transactions = planEvents({ total: 20_000, aggregates: 100, sizes: [1, 40, 7, 300] });
  const events = transactions.flat();
  let relay = spawnRelay(s.env);
  const stopWriting = new AbortController();
  try {
    await relay.waitForLog('streaming');
    const writing = writeThroughRestarts(s.pool, s.names, transactions, {
      eventsPerSecond: 1_500,
      signal: stopWriting.signal,
    });
    await waitFor(async () => (await published(relay)) > 5_000, 60_000, 'events to reach Kafka');
    await postgres.stop({ force: true });
    relay.process.kill('SIGKILL');
    await relay.exited;
    await postgres.start();
    relay = spawnRelay(s.env);
    await relay.waitForLog('streaming');
    const writer = await writing;
    t.diagnostic(`writer: ${JSON.stringify(writer)}`);

    const count = await readBack(s, events);
    t.diagnostic(`relay killed while Postgres was down: ${JSON.stringify(count)}`);
    assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
    assert.equal(count.reordered, 0);
    // One interval at 1,500 events/s, plus the transaction being read and one request in flight.
    assert.ok(count.duplicated <= 2_000, `${count.duplicated} duplicates (at most 2,000)`);
    assert.ok(
      relay.logs.some((l) => String(l.msg).startsWith('Postgres offers the slot from before')),
      'the new relay resumed from the position in Kafka, ahead of the slot',
    );
  } finally {
    stopWriting.abort();
    await postgres.start().catch(() => undefined);
    await stopRelay(relay);
    await s.cleanup();
  }
});
