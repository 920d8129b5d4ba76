/**
 * Latency at a steady rate of single-event transactions, seen from outside the relay: the time
 * from the writer's COMMIT returning to an independent Kafka consumer receiving the record, both
 * read from this process's monotonic clock. The relay's own histogram (WAL commit timestamp to
 * Kafka's acknowledgement) is reported beside it as a cross-check, only as fine as its buckets.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { OutboxNames } from '../../test/support/fixtures.ts';
import {
  topicsOf,
  withOutbox,
  withRelay,
  type BenchContext,
  type RunningRelay,
} from './harness.ts';
import {
  bucketsSince,
  histogramBuckets,
  histogramQuantile,
  metricsText,
  waitUntilReady,
  type Bucket,
} from './http.ts';
import { startTimingConsumer, type TimingConsumer } from './kafka.ts';
import { percentile, round } from './stats.ts';
import { singleRowSql } from './workload.ts';

export const LATENCY_MEASURED_BY =
  "writer's COMMIT returning (synchronous_commit=on) to an independent kafkajs consumer " +
  '(own group, no offset commits) receiving the record; one monotonic clock in the bench ' +
  'process; warm-up excluded.';

const BREAKDOWN_MEASURED_BY =
  "the same span cut at the record's CreateTime, which kafkajs stamps in the relay when it " +
  'builds the produce request (wall clock, 1 ms resolution, so near 0 it can be negative).';

const HISTOGRAM_MEASURED_BY =
  "the relay's outbox_relay_publish_latency_seconds (WAL commit timestamp to Kafka ack), " +
  '/metrics scraped at the end of the warm-up and of the run, interpolated within buckets.';

const HISTOGRAM = 'outbox_relay_publish_latency_seconds';
/** Writers in parallel: enough that one slow commit does not hold up the schedule. */
const WRITERS = 4;

export interface LatencyOptions {
  rate: number;
  seconds: number;
  warmupSeconds: number;
}

export interface LatencyResult {
  measuredBy: string;
  targetRate: number;
  achievedRate: number | null;
  seconds: number;
  warmupSeconds: number;
  events: number;
  received: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** The same span cut at the record's CreateTime, which the relay's producer stamps. */
  breakdown: { measuredBy: string; commitToProduce: Spread; produceToConsume: Spread };
  relayHistogram: { measuredBy: string; count: number; p50Ms: number | null; p99Ms: number | null };
  peakRssMb: number | null;
  relayExitCode: number | null;
}

export async function measureLatency(
  ctx: BenchContext,
  opts: LatencyOptions,
): Promise<LatencyResult> {
  return withOutbox(ctx, 'bench_latency', async (names) => {
    const consumer = await startTimingConsumer(ctx.brokers, topicsOf(names));
    const stopConsumer = ctx.teardown.add('latency consumer', () => consumer.stop());
    try {
      const outcome = await withRelay(ctx, names, 'latency', (running) =>
        steadyRun(ctx, names, running, consumer, opts),
      );
      return { ...outcome.result, peakRssMb: outcome.peakRssMb, relayExitCode: outcome.exitCode };
    } finally {
      await stopConsumer();
    }
  });
}

type SteadyResult = Omit<LatencyResult, 'peakRssMb' | 'relayExitCode'>;

async function steadyRun(
  ctx: BenchContext,
  names: OutboxNames,
  { port }: RunningRelay,
  consumer: TimingConsumer,
  opts: LatencyOptions,
): Promise<SteadyResult> {
  await waitUntilReady(port, 60_000);
  let atWarmupEnd: Bucket[] = [];
  const written = await writeAtRate(ctx, names, opts, async () => {
    atWarmupEnd = histogramBuckets(await metricsText(port), HISTOGRAM);
  });
  await allReceived(ctx, consumer, written.committedAt, 30_000);
  const histogram = bucketsSince(histogramBuckets(await metricsText(port), HISTOGRAM), atWarmupEnd);
  const latencies = spans(written.committedAt, consumer.receivedAt);
  return {
    measuredBy: LATENCY_MEASURED_BY,
    targetRate: opts.rate,
    achievedRate: round(written.achievedRate, 1),
    seconds: opts.seconds,
    warmupSeconds: opts.warmupSeconds,
    events: written.committedAt.size,
    received: latencies.length,
    ...spread(latencies),
    breakdown: {
      measuredBy: BREAKDOWN_MEASURED_BY,
      commitToProduce: spread(spans(written.committedAt, consumer.createdAt)),
      produceToConsume: spread(
        spans(only(consumer.createdAt, written.committedAt), consumer.receivedAt),
      ),
    },
    relayHistogram: summarizeHistogram(histogram),
  };
}

interface Spread {
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

function spread(sorted: number[]): Spread {
  return {
    p50Ms: round(percentile(sorted, 0.5)),
    p99Ms: round(percentile(sorted, 0.99)),
    maxMs: round(sorted.at(-1) ?? null),
  };
}

/** to - from for every id in both, in ms, ascending. */
function spans(from: Map<string, number>, to: Map<string, number>): number[] {
  return [...from]
    .flatMap(([id, start]) => {
      const end = to.get(id);
      return end === undefined ? [] : [end - start];
    })
    .sort((a, b) => a - b);
}

/** The entries of `map` whose keys are also in `keys`: the measured events, warm-up left out. */
function only<V>(map: Map<string, V>, keys: Map<string, unknown>): Map<string, V> {
  return new Map([...map].filter(([key]) => keys.has(key)));
}

function summarizeHistogram(buckets: Bucket[]): LatencyResult['relayHistogram'] {
  const ms = (seconds: number | null) => round(seconds === null ? null : seconds * 1000);
  return {
    measuredBy: HISTOGRAM_MEASURED_BY,
    count: buckets.at(-1)?.count ?? 0,
    p50Ms: ms(histogramQuantile(buckets, 0.5)),
    p99Ms: ms(histogramQuantile(buckets, 0.99)),
  };
}

interface Written {
  /** performance.now() when each measured event's COMMIT returned (warm-up left out). */
  committedAt: Map<string, number>;
  achievedRate: number;
}

/**
 * One single-row INSERT (its own transaction) every 1/rate seconds on a fixed schedule, spread
 * over a few connections; a late commit does not shift the ones after it.
 */
async function writeAtRate(
  ctx: BenchContext,
  names: OutboxNames,
  opts: LatencyOptions,
  onWarmupEnd: () => Promise<void>,
): Promise<Written> {
  const pool = new pg.Pool({
    connectionString: ctx.pgUrl,
    max: WRITERS,
    application_name: 'outbox-relay bench writer',
    // The harness runs Postgres with synchronous_commit=off; then the walsender only sees a
    // commit after the WAL writer's next flush (up to 200 ms), which is not the relay's latency.
    options: '-c synchronous_commit=on',
  });
  try {
    return await writeSchedule(ctx, pool, singleRowSql(names), opts, onWarmupEnd);
  } finally {
    await pool.end();
  }
}

async function writeSchedule(
  ctx: BenchContext,
  pool: pg.Pool,
  sql: string,
  opts: LatencyOptions,
  onWarmupEnd: () => Promise<void>,
): Promise<Written> {
  const committedAt = new Map<string, number>();
  const warmup = Math.round(opts.rate * opts.warmupSeconds);
  const total = warmup + Math.round(opts.rate * opts.seconds);
  const inserts: Promise<void>[] = [];
  let snapshot: Promise<void> = Promise.resolve();
  const start = performance.now();
  let measuredFrom = start;
  for (let n = 0; n < total; n++) {
    ctx.signal.throwIfAborted();
    const wait = start + (n * 1000) / opts.rate - performance.now();
    if (wait > 0) await sleep(wait);
    if (n === warmup) {
      snapshot = onWarmupEnd(); // not awaited: it must not delay the schedule
      measuredFrom = performance.now();
    }
    const id = randomUUID();
    const insert = pool.query(sql, [id, n]).then(() => {
      if (n >= warmup) committedAt.set(id, performance.now());
    });
    insert.catch(() => undefined); // awaited below; until then not an unhandled rejection
    inserts.push(insert);
  }
  // A failed insert fails the benchmark: its numbers would describe fewer events than claimed.
  await Promise.all([...inserts, snapshot]);
  const achievedRate = committedAt.size / ((performance.now() - measuredFrom) / 1000);
  return { committedAt, achievedRate };
}

async function allReceived(
  ctx: BenchContext,
  consumer: TimingConsumer,
  committedAt: Map<string, number>,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const missing = () => [...committedAt.keys()].some((id) => !consumer.receivedAt.has(id));
  while (missing() && performance.now() < deadline) {
    await sleep(100, undefined, { signal: ctx.signal });
  }
}
