/**
 * npm run bench: throughput and latency of `outbox-relay run` on the services of
 * scripts/with-services.ts. Prints ONE JSON line on stdout (progress on stderr) and asserts
 * nothing: on a shared, noisy machine the ratios within one run say more than absolute values.
 *
 *   BENCH_EVENTS           events per backlog measurement (default 50000)
 *   BENCH_RUNS             repetitions of each backlog measurement (default 3); the median is
 *                          reported with every run
 *   BENCH_LATENCY_RATE     events/s of the steady-rate latency run (default 500)
 *   BENCH_LATENCY_SECONDS  its measured length (default 20), after a 2 s warm-up
 *   BENCH_KINDS            backlog measurements to run, comma-separated (default
 *                          single,hundred,singleExactlyOnce,hundredTyped,hundredRegistry;
 *                          hundredTyped encodes the payloads with scripts/bench/schemas,
 *                          hundredRegistry does too in the Confluent wire format through the
 *                          run's schema registry); e.g. BENCH_EVENTS=1000000
 *                          BENCH_RUNS=1 BENCH_KINDS=hundred for the large-backlog memory figure
 *   (every round also runs Kafka's own ProducerPerformance on the same broker, the ceiling the
 *   drain rates are compared with; `goals` lists issue 12's targets with this run's figures)
 *   BENCH_KAFKA_CLIENTS    Kafka clients (RELAY_KAFKA_CLIENT) to compare, comma-separated
 *                          (default kafkajs). Each backlog run goes through them in turn, so
 *                          that a noisy minute hits all; the first client's figures are the
 *                          top-level ones, the others' are under `kafkaClients`. exactly-once
 *                          runs only on kafkajs (platformatic refuses it). E.g.
 *                          BENCH_KAFKA_CLIENTS=kafkajs,platformatic BENCH_KINDS=single,hundred
 */
import { mkdtemp } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachServices } from './services/index.ts';
import {
  measureBacklog,
  summarizeBacklog,
  type BacklogOptions,
  type BacklogRun,
} from './bench/backlog.ts';
import { PARTITIONS, RELAY_OVERRIDES, type BenchContext } from './bench/harness.ts';
import {
  measureProducerCeiling,
  PRODUCER_CEILING_MEASURED_BY,
  type ProducerCeilingRun,
} from './bench/producer-ceiling.ts';
import { median, round } from './bench/stats.ts';
import { measureLatency, type LatencyOptions } from './bench/latency.ts';
import { killRelays } from './bench/relay-process.ts';
import { interruption, Interrupted, signalExitCode, Teardown } from './bench/teardown.ts';
import { hideKafkajsTimerWarning } from './bench/warnings.ts';
import { errorStack } from '../src/domain/errors.ts';

interface BenchSettings {
  events: number;
  runs: number;
  latency: LatencyOptions;
  /** Which backlog measurements to run (BENCH_KINDS); all by default. */
  kinds: string[];
  /** RELAY_KAFKA_CLIENT values to alternate (BENCH_KAFKA_CLIENTS); the first is the main one. */
  clients: string[];
}

const ALL_KINDS = [
  'single',
  'hundred',
  'singleExactlyOnce',
  'hundredTyped',
  'hundredRegistry',
] as const;
type Kind = (typeof ALL_KINDS)[number];

/** Typed events: the workload's payloads as records of these schemas, one per event type. */
const BENCH_SCHEMA_DIR = 'scripts/bench/schemas';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a whole number of at least 1, not "${raw}"`);
  }
  return value;
}

function settingsFromEnv(): BenchSettings {
  return {
    events: positiveInt('BENCH_EVENTS', 50_000),
    runs: positiveInt('BENCH_RUNS', 3),
    kinds: (process.env.BENCH_KINDS ?? ALL_KINDS.join(',')).split(','),
    clients: (process.env.BENCH_KAFKA_CLIENTS || 'kafkajs').split(','),
    latency: {
      rate: positiveInt('BENCH_LATENCY_RATE', 500),
      seconds: positiveInt('BENCH_LATENCY_SECONDS', 20),
      warmupSeconds: 2,
    },
  };
}

function progress(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

function describeRate(label: string, run: BacklogRun): string {
  const rate = run.eventsPerSecond === null ? 'did not finish' : `${run.eventsPerSecond} events/s`;
  return (
    `${label}: ${rate} (drain ${run.drainSeconds}s, CPU ${run.cpuMicrosPerEvent} µs/event, write ${run.writeSeconds}s, relay start ` +
    `${run.relayStartSeconds}s, published ${run.publishedEvents}, peak RSS ${run.peakRssMb} MB)`
  );
}

/**
 * Single-event and hundred-event runs alternate, so that a noisy minute on the shared machine
 * hits both kinds rather than all runs of one.
 */
async function backlogs(ctx: BenchContext, settings: BenchSettings) {
  const single: BacklogOptions = {
    label: 'bench_single',
    events: settings.events,
    perTransaction: 1,
  };
  const hundred: BacklogOptions = { ...single, label: 'bench_hundred', perTransaction: 100 };
  const singleExactlyOnce: BacklogOptions = {
    ...single,
    label: 'bench_single_eos',
    relayEnv: { RELAY_DELIVERY: 'exactly-once' },
  };
  const hundredTyped: BacklogOptions = {
    ...hundred,
    label: 'bench_hundred_typed',
    relayEnv: { RELAY_SCHEMA_DIR: BENCH_SCHEMA_DIR },
  };
  const hundredRegistry: BacklogOptions = {
    ...hundred,
    label: 'bench_hundred_registry',
    relayEnv: { RELAY_SCHEMA_DIR: BENCH_SCHEMA_DIR, RELAY_SCHEMA_REGISTRY_URL: ctx.registryUrl },
  };
  const options: Record<Kind, BacklogOptions> = {
    single,
    hundred,
    singleExactlyOnce,
    hundredTyped,
    hundredRegistry,
  };
  const byClient = new Map(settings.clients.map((client) => [client, emptyRuns()]));
  const ceiling: ProducerCeilingRun[] = [];
  for (let i = 1; i <= settings.runs; i++) {
    for (const kind of ALL_KINDS) {
      if (!settings.kinds.includes(kind)) continue;
      if (kind === 'hundredRegistry' && !ctx.registryUrl) continue;
      for (const [client, runs] of byClient) {
        if (kind === 'singleExactlyOnce' && client !== 'kafkajs') continue;
        const clientOptions = { ...options[kind], label: `${options[kind].label}_${client}` };
        clientOptions.relayEnv = { ...options[kind].relayEnv, RELAY_KAFKA_CLIENT: client };
        const run = await measureBacklog(ctx, clientOptions, i);
        runs[kind].push(run);
        progress(describeRate(`backlog ${kind} ${client} ${i}/${settings.runs}`, run));
      }
    }
    // In every round, between the relay's runs: a noisy minute hits both.
    const sized = [...byClient.values()].flatMap((r) => [...r.hundred, ...r.single]);
    const recordSize = sized.find((r) => r.meanRecordBytes !== null)?.meanRecordBytes ?? 520;
    const producer = await measureProducerCeiling(ctx, {
      // At least 200,000: fewer would mostly measure the JVM warming up.
      records: Math.max(settings.events, 200_000),
      recordSize,
      partitions: PARTITIONS,
    });
    ceiling.push(producer);
    progress(`producer ceiling ${i}/${settings.runs}: ${producer.summary}`);
  }
  const [main = 'kafkajs', ...others] = settings.clients;
  return {
    ...summarize(byClient.get(main) ?? emptyRuns()),
    producerCeiling: {
      recordsPerSecond: round(
        median(ceiling.flatMap((r) => (r.recordsPerSecond === null ? [] : [r.recordsPerSecond]))),
        0,
      ),
      measuredBy: PRODUCER_CEILING_MEASURED_BY,
      runs: ceiling,
    },
    kafkaClient: main,
    ...(others.length > 0
      ? {
          kafkaClients: Object.fromEntries(
            others.map((client) => [client, summarize(byClient.get(client) ?? emptyRuns())]),
          ),
        }
      : {}),
  };

  function summarize(runs: Record<Kind, BacklogRun[]>) {
    return {
      backlogSingle: summarizeBacklog(single, runs.single),
      backlogHundred: summarizeBacklog(hundred, runs.hundred),
      backlogSingleExactlyOnce: summarizeBacklog(singleExactlyOnce, runs.singleExactlyOnce),
      backlogHundredTyped: summarizeBacklog(hundredTyped, runs.hundredTyped),
      backlogHundredRegistry: summarizeBacklog(hundredRegistry, runs.hundredRegistry),
    };
  }
}

function emptyRuns(): Record<Kind, BacklogRun[]> {
  return { single: [], hundred: [], singleExactlyOnce: [], hundredTyped: [], hundredRegistry: [] };
}

async function bench(ctx: BenchContext, settings: BenchSettings) {
  const backlog = await backlogs(ctx, settings);
  const { backlogSingle, backlogHundred, backlogSingleExactlyOnce } = backlog;
  progress(`latency: ${settings.latency.rate} events/s for ${settings.latency.seconds}s`);
  const latency = await measureLatency(ctx, settings.latency);
  progress(`latency: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms`);
  const rss = [...backlogSingle.runs, ...backlogHundred.runs, latency].map((r) => r.peakRssMb);
  return {
    backlogSingle,
    backlogHundred,
    backlogSingleExactlyOnce,
    backlogHundredTyped: backlog.backlogHundredTyped,
    backlogHundredRegistry: backlog.backlogHundredRegistry,
    producerCeiling: backlog.producerCeiling,
    /** The relay's drain over Kafka's own producer on the same broker, medians of the same run. */
    drainOverProducerCeiling: {
      hundred: ratio(backlogHundred.eventsPerSecond, backlog.producerCeiling.recordsPerSecond),
      single: ratio(backlogSingle.eventsPerSecond, backlog.producerCeiling.recordsPerSecond),
    },
    kafkaClient: backlog.kafkaClient,
    ...(backlog.kafkaClients ? { kafkaClients: backlog.kafkaClients } : {}),
    exactlyOnceThroughputRatio: ratio(
      backlogSingleExactlyOnce.eventsPerSecond,
      backlogSingle.eventsPerSecond,
    ),
    /** Typed events (JSON to Avro records) over the envelope, same workload. */
    typedThroughputRatio: ratio(
      backlog.backlogHundredTyped.eventsPerSecond,
      backlogHundred.eventsPerSecond,
    ),
    /** The Confluent wire format through a registry over single-object encoding, typed. */
    registryThroughputRatio: ratio(
      backlog.backlogHundredRegistry.eventsPerSecond,
      backlog.backlogHundredTyped.eventsPerSecond,
    ),
    latency,
    peakRssMb: Math.max(...rss.filter((mb): mb is number => mb !== null)),
    peakRssMeasuredBy:
      'VmHWM of the `outbox-relay run` child process (/proc/<pid>/status) just before SIGTERM; ' +
      'the largest over all measurements, each run also reports its own',
    goals: goals(settings, backlog, latency),
  };
}

/**
 * Issue 12's goals, each with this run's figure. A goal measured under other conditions than
 * its own (a smaller backlog, another latency rate) says so instead of passing or failing.
 */
function goals(
  settings: BenchSettings,
  backlog: Awaited<ReturnType<typeof backlogs>>,
  latency: Awaited<ReturnType<typeof measureLatency>>,
) {
  const ceiling = backlog.producerCeiling.recordsPerSecond;
  const share = (rate: number | null) => ratio(rate, ceiling);
  const goal = (figure: number | null, target: string, met: boolean | null) => ({
    figure,
    goal: target,
    met: figure === null ? null : met,
  });
  const atMost = (figure: number | null, limit: number) => figure !== null && figure <= limit;
  const hundred = backlog.backlogHundred;
  const single = backlog.backlogSingle;
  const startSeconds = median(
    [...hundred.runs, ...single.runs].flatMap((r) =>
      r.relayStartSeconds === null ? [] : [r.relayStartSeconds],
    ),
  );
  const rss = Math.max(...hundred.runs.map((r) => r.peakRssMb ?? 0));
  const atRate = settings.latency.rate === 2000;
  return {
    drainHundredOverCeiling: goal(
      share(hundred.eventsPerSecond),
      '>= 0.6',
      (share(hundred.eventsPerSecond) ?? 0) >= 0.6,
    ),
    drainSingleOverCeiling: goal(
      share(single.eventsPerSecond),
      '>= 0.6',
      (share(single.eventsPerSecond) ?? 0) >= 0.6,
    ),
    cpuMicrosPerEventHundred: goal(
      hundred.cpuMicrosPerEvent,
      '<= 20',
      atMost(hundred.cpuMicrosPerEvent, 20),
    ),
    cpuMicrosPerEventSingle: goal(
      single.cpuMicrosPerEvent,
      '<= 20',
      atMost(single.cpuMicrosPerEvent, 20),
    ),
    peakRssMbHundred: goal(
      hundred.runs.length > 0 ? rss : null,
      '<= 150 MiB draining 1,000,000 events',
      settings.events >= 1_000_000 ? rss <= 150 : null,
    ),
    latencyP99Ms: goal(
      latency.p99Ms,
      '<= 25 at 2,000 events/s',
      atRate ? atMost(latency.p99Ms, 25) : null,
    ),
    latencyMaxMs: goal(
      latency.maxMs,
      '<= 100 at 2,000 events/s',
      atRate ? atMost(latency.maxMs, 100) : null,
    ),
    startSeconds: goal(startSeconds, '<= 1 (spawn to /readyz 200)', atMost(startSeconds, 1)),
  };
}

/** Exactly-once over at-least-once throughput, same workload, medians of the same run. */
function ratio(part: number | null, whole: number | null): number | null {
  return part === null || !whole ? null : Math.round((part / whole) * 100) / 100;
}

function loadAverage1m(): number {
  return Math.round((loadavg()[0] ?? 0) * 100) / 100;
}

function environment(settings: BenchSettings, kind: string) {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? null,
    loadAverage1m: loadAverage1m(),
    services: kind,
    events: settings.events,
    runs: settings.runs,
    kafkaClientsCompared: settings.clients,
    relaySettings: { ...RELAY_OVERRIDES, otherSettings: 'defaults' },
  };
}

/** Everything between attaching to the servers and the JSON line. */
async function run(settings: BenchSettings, teardown: Teardown, signal: AbortSignal) {
  const services = await attachServices();
  teardown.add('services', () => services.close());
  const logDir = await mkdtemp(join(tmpdir(), 'outbox-relay-bench-'));
  progress(`relay logs in ${logDir}`);
  const { pgUrl, kafkaBrokers: brokers, registryUrl } = services;
  const started = environment(settings, services.kind);
  const ctx = { pgUrl, brokers, registryUrl, logDir, teardown, signal };
  const results = await bench(ctx, settings);
  // Other work on a shared machine shows in the load: compare runs made at similar load.
  return { bench: 'outbox-relay', ...started, loadAverage1mAtEnd: loadAverage1m(), ...results };
}

async function main(): Promise<number> {
  hideKafkajsTimerWarning();
  const settings = settingsFromEnv();
  const aborter = new AbortController();
  const teardown = new Teardown((what, error) =>
    progress(`teardown of ${what} failed: ${String(error)}`),
  );
  const signalled = interruption(() => killRelays());
  signalled.catch(() => aborter.abort());
  const work = run(settings, teardown, aborter.signal);
  work.catch(() => undefined); // after an interruption nobody awaits it any more
  let code = 0;
  try {
    process.stdout.write(`${JSON.stringify(await Promise.race([work, signalled]))}\n`);
  } catch (error) {
    code = failure(error);
  } finally {
    aborter.abort();
    if (!(await teardown.run()) && code === 0) code = 1;
  }
  return code;
}

function failure(error: unknown): number {
  if (error instanceof Interrupted) {
    progress(`interrupted by ${error.signal}; removing what the benchmark created`);
    return signalExitCode(error.signal);
  }
  progress(`failed: ${errorStack(error)}`);
  return 1;
}

process.exit(await main());
