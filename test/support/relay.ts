/**
 * Runs the relay for tests: as a child process through the real CLI (for signals and SIGKILL),
 * or in-process through the same library code (for speed and for reading its state).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig } from '../../src/config/load.ts';
import type { RelayConfig } from '../../src/config/schema.ts';
import { PACKAGE_ROOT } from '../../src/db/paths.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { createMetrics, type RelayMetrics } from '../../src/ops/metrics.ts';
import { HealthState } from '../../src/ops/health.ts';
import { createRelay } from '../../src/pipeline/create.ts';
import type { Relay } from '../../src/pipeline/relay.ts';
import type { OutboxNames } from './fixtures.ts';

export const CLI = join(PACKAGE_ROOT, 'src', 'cli', 'main.ts');
/** The flags the CLI's shebang and the Dockerfile start Node with: tests run the relay the same way. */
export const NODE_FLAGS = ['--max-semi-space-size=4'];

export function relayEnv(
  pgUrl: string,
  brokers: string[],
  names: OutboxNames,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    RELAY_PG_URL: pgUrl,
    RELAY_KAFKA_BROKERS: brokers.join(','),
    RELAY_OUTBOX_SCHEMA: names.schema,
    RELAY_OUTBOX_TABLE: names.table,
    RELAY_PUBLICATION: names.publication,
    RELAY_SLOT: names.slot,
    RELAY_TOPIC_TEMPLATE: names.topicTemplate,
    RELAY_DEAD_LETTER_TOPIC: names.deadLetterTopic,
    RELAY_TOPIC_PARTITIONS: '6',
    RELAY_HTTP_PORT: '0',
    RELAY_STATUS_INTERVAL_MS: '200',
    // A whole suite can run against the other Kafka client: RELAY_KAFKA_CLIENT=platformatic npm test.
    ...(process.env.RELAY_KAFKA_CLIENT
      ? { RELAY_KAFKA_CLIENT: process.env.RELAY_KAFKA_CLIENT }
      : {}),
    ...extra,
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall time until exit. */
  ms: number;
}

/** Runs one `outbox-relay` command through the real CLI and collects its output. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<CliResult> {
  const started = Date.now();
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

export interface RelayChild {
  readonly process: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  readonly httpPort: Promise<number>;
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Starts `outbox-relay run` as a child process with exactly this environment (plus PATH). */
export function spawnRelay(env: Record<string, string>): RelayChild {
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, 'run'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      parsed = { msg: line };
    }
    logs.push(parsed);
    for (const w of waiters.filter((w) => w.msg === parsed.msg)) w.resolve(parsed);
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const waitForLog = (msg: string, timeoutMs = 30_000) => {
    const found = logs.find((l) => l.msg === msg);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `relay did not log "${msg}" in ${timeoutMs} ms; stderr: ${stderr}; last logs: ${JSON.stringify(logs.slice(-5))}`,
            ),
          ),
        timeoutMs,
      );
      waiters.push({ msg, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      void exited.then((code) =>
        reject(new Error(`relay exited (${code}) before logging "${msg}": ${stderr}`)),
      );
    });
  };
  const httpPort = waitForLog('starting').then((l) => Number(l.httpPort));
  httpPort.catch(() => undefined);
  return { process: child, logs, httpPort, waitForLog, exited };
}

export interface InProcessRelay {
  readonly relay: Relay;
  readonly metrics: RelayMetrics;
  readonly health: HealthState;
  readonly running: Promise<void>;
  stop(): Promise<string>;
}

/** Runs the relay inside the test process with the same wiring as `outbox-relay run`. */
export function startRelayInProcess(env: Record<string, string>): InProcessRelay {
  const config: RelayConfig = loadConfig({ env: { RELAY_LOG_LEVEL: 'warn', ...env } }).config;
  const logger = createLogger(config.logLevel);
  const metrics = createMetrics({ defaultMetrics: false });
  const health = new HealthState(config.livenessTimeoutMs);
  const { relay, sink } = createRelay(config, { logger, metrics, health });
  const running = relay.run();
  running.catch(() => undefined);
  return {
    relay,
    metrics,
    health,
    running,
    stop: async () => {
      const report = await relay.stop();
      await running;
      await sink.disconnect();
      return report.durableLsn;
    },
  };
}

export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A relay's /readyz answer: its status, and on a standby who holds the slot. */
export async function readiness(relay: RelayChild): Promise<{
  status: string;
  slotHolder?: { pid: number | null; applicationName: string | null; lagBytes: number | null };
}> {
  const response = await fetch(`http://127.0.0.1:${await relay.httpPort}/readyz`);
  return (await response.json()) as Awaited<ReturnType<typeof readiness>>;
}
