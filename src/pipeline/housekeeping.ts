/**
 * Periodic work beside the stream, each on its own timer and never fatal: the heartbeat
 * statement (keeps the slot moving when the database sees no writes) and the partition-count
 * check (a changed count breaks keyed order across the change) and retention (`prune`).
 */
import { createDbPool } from '../db/client.ts';
import { currentHost } from '../db/connect.ts';
import type { RelayConfig } from '../config/schema.ts';
import type { Logger } from '../ops/logger.ts';
import type { RelayMetrics } from '../ops/metrics.ts';
import { pruneTargetFrom, ScheduledPrune } from '../admin/prune.ts';
import type { KafkaSink } from '../publish/kafka.ts';

export interface HousekeepingDeps {
  config: RelayConfig;
  logger: Logger;
  metrics: RelayMetrics;
  sink: KafkaSink;
}

/** Starts the timers; the returned function stops them. */
export function startHousekeeping(deps: HousekeepingDeps): () => Promise<void> {
  const log = deps.logger.child({ stage: 'housekeeping' });
  const stops: (() => Promise<void>)[] = [];
  if (deps.config.heartbeatIntervalMs > 0) stops.push(startHeartbeat(deps, log));
  if (deps.config.partitionCheckIntervalMs > 0) {
    stops.push(every(deps.config.partitionCheckIntervalMs, () => checkPartitions(deps, log)));
  }
  if (deps.config.pruneIntervalMs > 0) stops.push(startPrune(deps.config, log));
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}

function startHeartbeat(deps: HousekeepingDeps, log: Logger): () => Promise<void> {
  const open = () => {
    const pool = createDbPool(deps.config.pgUrl, 'heartbeat', { max: 1 });
    pool.on('error', (error) => log.warn({ err: error }, 'heartbeat connection failed'));
    return { pool, host: currentHost(deps.config.pgUrl) };
  };
  let current = open();
  const stop = every(deps.config.heartbeatIntervalMs, async () => {
    // A multi-host RELAY_PG_URL: after a failover the session streams from another server.
    if (currentHost(deps.config.pgUrl) !== current.host) {
      void current.pool.end().catch(() => undefined);
      current = open();
    }
    try {
      await current.pool.query(deps.config.heartbeatSql);
    } catch (error) {
      log.warn({ err: error }, 'heartbeat statement failed (RELAY_HEARTBEAT_SQL)');
    }
  });
  return async () => {
    await stop();
    await current.pool.end();
  };
}

function startPrune(config: RelayConfig, log: Logger): () => Promise<void> {
  const prune = new ScheduledPrune(pruneTargetFrom(config), log);
  const stop = every(config.pruneIntervalMs, () => prune.tick());
  return async () => {
    prune.stop();
    await stop();
  };
}

async function checkPartitions(deps: HousekeepingDeps, log: Logger): Promise<void> {
  try {
    for (const change of await deps.sink.changedPartitionCounts()) {
      deps.metrics.partitionCountChanges.inc({ topic: change.topic });
      log.warn(
        change,
        'topic partition count changed: events of one aggregate before and after the change may be on different partitions, so their order across it is not guaranteed',
      );
    }
  } catch (error) {
    log.debug({ err: error }, 'partition count check failed; trying again later');
  }
}

/** Runs `task` every `ms`, skipping a tick while the last run is busy; the returned function waits for it. */
export function every(ms: number, task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  const timer = setInterval(() => {
    running ??= task().finally(() => (running = null));
  }, ms);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
