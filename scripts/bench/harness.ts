/**
 * What every measurement shares: a fresh outbox (table, publication, slot, topics) that is
 * removed afterwards, and the relay run as a child process through the CLI.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  dropOutbox,
  prepareOutbox,
  uniqueNames,
  type OutboxNames,
} from '../../test/support/fixtures.ts';
import { relayEnv } from '../../test/support/relay.ts';
import { parseLsn, type Lsn } from '../../src/domain/lsn.ts';
import { createTopics, deleteTopics } from './kafka.ts';
import { startRelayProcess, type RelayProcess } from './relay-process.ts';
import type { Teardown } from './teardown.ts';
import { AGGREGATE_TYPES, dropTable } from './workload.ts';

export interface BenchContext {
  readonly pgUrl: string;
  readonly brokers: string[];
  /** The run's schema registry ('' without one: the registry measurement is skipped). */
  readonly registryUrl: string;
  /** Where each relay's log goes, one file per measurement. */
  readonly logDir: string;
  readonly teardown: Teardown;
  /** Aborted on Ctrl-C: loops stop at their next turn. */
  readonly signal: AbortSignal;
}

export const PARTITIONS = 6;

/**
 * What the benchmark changes from the defaults. The status interval is the resolution of the
 * backlog measurement (the slot only moves when the relay reports), so it is at its minimum.
 */
export const RELAY_OVERRIDES = {
  RELAY_STATUS_INTERVAL_MS: '100',
  RELAY_TOPIC_PARTITIONS: String(PARTITIONS),
  RELAY_LOG_LEVEL: 'info',
} as const;

export function topicsOf(names: OutboxNames): string[] {
  return AGGREGATE_TYPES.map((type) => names.topic(type));
}

export async function withDb<T>(pgUrl: string, use: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: pgUrl, application_name: 'outbox-relay bench' });
  await db.connect();
  try {
    return await use(db);
  } finally {
    await db.end();
  }
}

/** A fresh outbox, slot and topics for one measurement; all of it is removed afterwards. */
export async function withOutbox<T>(
  ctx: BenchContext,
  label: string,
  use: (names: OutboxNames) => Promise<T>,
): Promise<T> {
  const names = uniqueNames(label);
  const remove = ctx.teardown.add(`outbox ${names.id}`, () => removeOutbox(ctx, names));
  try {
    await prepareOutbox(ctx.pgUrl, names);
    await createTopics(ctx.brokers, topicsOf(names), PARTITIONS);
    return await use(names);
  } finally {
    await remove();
  }
}

async function removeOutbox(ctx: BenchContext, names: OutboxNames): Promise<void> {
  await dropOutbox(ctx.pgUrl, names);
  await withDb(ctx.pgUrl, (db) => dropTable(db, names));
  await deleteTopics(ctx.brokers, topicsOf(names));
}

export interface RunningRelay {
  readonly relay: RelayProcess;
  readonly port: number;
  /** performance.now() at spawn. */
  readonly spawnedAt: number;
}

export interface RelayOutcome<T> {
  readonly result: T;
  /** VmHWM just before SIGTERM: the kernel's peak RSS over the whole run. */
  readonly peakRssMb: number | null;
  readonly exitCode: number | null;
}

export async function withRelay<T>(
  ctx: BenchContext,
  names: OutboxNames,
  logName: string,
  use: (running: RunningRelay) => Promise<T>,
  extraEnv: Record<string, string> = {},
): Promise<RelayOutcome<T>> {
  const spawnedAt = performance.now();
  const env = relayEnv(ctx.pgUrl, ctx.brokers, names, {
    ...RELAY_OVERRIDES,
    RELAY_CHECKPOINT_TOPIC: `t.${names.id}.checkpoints`, // used by exactly-once runs only
    ...extraEnv,
  });
  const relay = startRelayProcess(env, join(ctx.logDir, `${logName}.log`));
  const stop = ctx.teardown.add(`relay ${relay.pid}`, async () => void (await relay.stop()));
  try {
    const result = await use({ relay, port: await relay.httpPort, spawnedAt });
    const peakRssMb = await relay.peakRssMb(); // the /proc entry goes with the process
    const { code } = await relay.stop();
    return { result, peakRssMb, exitCode: code };
  } finally {
    await stop();
  }
}

/** performance.now() when the slot's confirmed_flush_lsn reached `target`; null on timeout. */
export async function slotReaches(
  ctx: BenchContext,
  slot: string,
  target: Lsn,
  timeoutMs: number,
  everyMs = 50,
): Promise<number | null> {
  return withDb(ctx.pgUrl, async (db) => {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const { rows } = await db.query<{ lsn: string | null }>(
        'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      const lsn = rows[0]?.lsn;
      if (lsn && parseLsn(lsn) >= target) return performance.now();
      await sleep(everyMs, undefined, { signal: ctx.signal });
    }
    return null;
  });
}
