/**
 * Draining a backlog: the events are written while no relay runs, then the relay starts and the
 * clock runs from its readiness until the slot's confirmed_flush_lsn reaches the WAL position
 * after the last commit, which the relay reports only once Kafka holds everything before it.
 */
import type { OutboxNames } from '../../test/support/fixtures.ts';
import type { Lsn } from '../../src/domain/lsn.ts';
import {
  slotReaches,
  withDb,
  withOutbox,
  withRelay,
  type BenchContext,
  type RunningRelay,
} from './harness.ts';
import { metricSum, metricsText, waitUntilReady } from './http.ts';
import { median, round } from './stats.ts';
import { meanPayloadBytes, writeBacklog } from './workload.ts';

export const BACKLOG_MEASURED_BY =
  'events / seconds from /readyz 200 (slot streaming; polled every 20 ms) until the slot ' +
  'confirmed_flush_lsn >= pg_current_wal_insert_lsn() after the last commit (polled every 50 ms; ' +
  'the relay reports every 100 ms). Backlog written first with no relay running; topics ' +
  'created beforehand.';

const DRAIN_TIMEOUT_MS = 180_000;

export interface BacklogOptions {
  label: string;
  events: number;
  perTransaction: number;
  /** Settings on top of the bench's own, e.g. RELAY_DELIVERY. */
  relayEnv?: Record<string, string>;
}

export interface BacklogRun {
  eventsPerSecond: number | null;
  drainSeconds: number | null;
  /** Spawn of `outbox-relay run` to /readyz 200: node start, Kafka and Postgres connections. */
  relayStartSeconds: number | null;
  writeSeconds: number | null;
  /** outbox_relay_events_published_total at the end; should equal the events written. */
  publishedEvents: number;
  meanPayloadBytes: number;
  meanRecordBytes: number | null;
  peakRssMb: number | null;
  relayExitCode: number | null;
}

export async function measureBacklog(
  ctx: BenchContext,
  opts: BacklogOptions,
  run: number,
): Promise<BacklogRun> {
  return withOutbox(ctx, opts.label, async (names) => {
    const backlog = await withDb(ctx.pgUrl, (db) =>
      writeBacklog(db, names, opts.events, opts.perTransaction),
    );
    const payloadBytes = await withDb(ctx.pgUrl, (db) => meanPayloadBytes(db, names));
    const outcome = await withRelay(
      ctx,
      names,
      `${opts.label}-${run}`,
      (running) => drain(ctx, names, running, backlog.targetLsn),
      opts.relayEnv,
    );
    const { drainSeconds, published, bytes, relayStartSeconds } = outcome.result;
    return {
      eventsPerSecond: drainSeconds === null ? null : round(opts.events / drainSeconds, 0),
      drainSeconds: round(drainSeconds, 2),
      relayStartSeconds: round(relayStartSeconds, 2),
      writeSeconds: round(backlog.writeSeconds, 2),
      publishedEvents: published,
      meanPayloadBytes: payloadBytes,
      meanRecordBytes: published > 0 ? Math.round(bytes / published) : null,
      peakRssMb: outcome.peakRssMb,
      relayExitCode: outcome.exitCode,
    };
  });
}

interface Drain {
  relayStartSeconds: number;
  drainSeconds: number | null;
  published: number;
  bytes: number;
}

async function drain(
  ctx: BenchContext,
  names: OutboxNames,
  { port, spawnedAt }: RunningRelay,
  target: Lsn,
): Promise<Drain> {
  await waitUntilReady(port, 60_000, 20);
  const readyAt = performance.now();
  const doneAt = await slotReaches(ctx, names.slot, target, DRAIN_TIMEOUT_MS);
  const metrics = await metricsText(port);
  return {
    relayStartSeconds: (readyAt - spawnedAt) / 1000,
    drainSeconds: doneAt === null ? null : (doneAt - readyAt) / 1000,
    published: metricSum(metrics, 'outbox_relay_events_published_total'),
    bytes: metricSum(metrics, 'outbox_relay_bytes_published_total'),
  };
}

export interface BacklogSummary {
  eventsPerSecond: number | null;
  transactions: number;
  eventsPerTransaction: number;
  measuredBy: string;
  runs: BacklogRun[];
}

export function summarizeBacklog(opts: BacklogOptions, runs: BacklogRun[]): BacklogSummary {
  const rates = runs.flatMap((r) => (r.eventsPerSecond === null ? [] : [r.eventsPerSecond]));
  return {
    eventsPerSecond: round(median(rates), 0),
    transactions: Math.ceil(opts.events / opts.perTransaction),
    eventsPerTransaction: opts.perTransaction,
    measuredBy: BACKLOG_MEASURED_BY,
    runs,
  };
}
