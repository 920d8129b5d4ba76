/**
 * Draining a backlog: the events are written while no relay runs, then the relay starts and the
 * clock runs from its readiness until the slot's confirmed_flush_lsn reaches the WAL position
 * after the last commit, which the relay reports only once Kafka holds everything before it.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
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
  /** CPU time (user + system) of the relay process during the drain, per event. */
  cpuMicrosPerEvent: number | null;
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
    const { drainSeconds, published, bytes, relayStartSeconds, cpuSeconds } = outcome.result;
    return {
      eventsPerSecond: drainSeconds === null ? null : round(opts.events / drainSeconds, 0),
      drainSeconds: round(drainSeconds, 2),
      relayStartSeconds: round(relayStartSeconds, 2),
      writeSeconds: round(backlog.writeSeconds, 2),
      publishedEvents: published,
      meanPayloadBytes: payloadBytes,
      meanRecordBytes: published > 0 ? Math.round(bytes / published) : null,
      peakRssMb: outcome.peakRssMb,
      cpuMicrosPerEvent:
        cpuSeconds === null || published === 0 ? null : round((cpuSeconds * 1e6) / published, 1),
      relayExitCode: outcome.exitCode,
    };
  });
}

interface Drain {
  relayStartSeconds: number;
  drainSeconds: number | null;
  published: number;
  bytes: number;
  cpuSeconds: number | null;
}

let clockTicks: number | undefined;

/** utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15). */
async function cpuSecondsOf(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The command name (field 2) may hold spaces; the fields after its ')' are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return Number.isFinite(ticks) && clockTicks > 0 ? ticks / clockTicks : null;
}

async function drain(
  ctx: BenchContext,
  names: OutboxNames,
  { port, spawnedAt, relay }: RunningRelay,
  target: Lsn,
): Promise<Drain> {
  await waitUntilReady(port, 60_000, 20);
  const readyAt = performance.now();
  const cpuAtReady = await cpuSecondsOf(relay.pid);
  const doneAt = await slotReaches(ctx, names.slot, target, DRAIN_TIMEOUT_MS);
  const cpuAtDone = await cpuSecondsOf(relay.pid);
  const metrics = await metricsText(port);
  return {
    cpuSeconds:
      doneAt === null || cpuAtReady === null || cpuAtDone === null ? null : cpuAtDone - cpuAtReady,
    relayStartSeconds: (readyAt - spawnedAt) / 1000,
    drainSeconds: doneAt === null ? null : (doneAt - readyAt) / 1000,
    published: metricSum(metrics, 'outbox_relay_events_published_total'),
    bytes: metricSum(metrics, 'outbox_relay_bytes_published_total'),
  };
}

export interface BacklogSummary {
  eventsPerSecond: number | null;
  /** Medians of the runs' CPU per event and peak RSS. */
  cpuMicrosPerEvent: number | null;
  peakRssMb: number | null;
  transactions: number;
  eventsPerTransaction: number;
  measuredBy: string;
  runs: BacklogRun[];
}

export function summarizeBacklog(opts: BacklogOptions, runs: BacklogRun[]): BacklogSummary {
  const rates = runs.flatMap((r) => (r.eventsPerSecond === null ? [] : [r.eventsPerSecond]));
  return {
    eventsPerSecond: round(median(rates), 0),
    cpuMicrosPerEvent: round(
      median(runs.flatMap((r) => (r.cpuMicrosPerEvent === null ? [] : [r.cpuMicrosPerEvent]))),
      1,
    ),
    peakRssMb: round(median(runs.flatMap((r) => (r.peakRssMb === null ? [] : [r.peakRssMb]))), 1),
    transactions: Math.ceil(opts.events / opts.perTransaction),
    eventsPerTransaction: opts.perTransaction,
    measuredBy: BACKLOG_MEASURED_BY,
    runs,
  };
}
