/**
 * The slot's health, read from pg_replication_slots every RELAY_SLOT_CHECK_INTERVAL_MS on a
 * connection of its own, for the whole life of `run` (streaming, standing by, reconnecting):
 * wal_status, safe_wal_size, conflicting, invalidation_reason, the lag, and whether this relay
 * holds the slot. It feeds /readyz and the outbox_relay_slot_* metrics, so that an operator sees
 * a slot about to lose its WAL before it does; and it tells the relay when PostgreSQL has
 * invalidated the slot, which never streams again: the relay stops rather than retry.
 */
import type { RelayConfig } from '../config/schema.ts';
import { createDbPool, type DbPool } from '../db/client.ts';
import { currentHost } from '../db/connect.ts';
import { readSlotHealth, type SlotHealthRow } from '../db/slots.ts';
import { errorMessage, type RelayError } from '../domain/errors.ts';
import type { HealthState, SlotHealth } from '../ops/health.ts';
import type { Logger } from '../ops/logger.ts';
import type { RelayMetrics } from '../ops/metrics.ts';
import { invalidatedSlotError, slotInvalidation } from '../source/slot.ts';
import { every } from './housekeeping.ts';

export interface SlotHealthDeps {
  config: Pick<RelayConfig, 'pgUrl' | 'slot' | 'slotCheckIntervalMs'>;
  logger: Logger;
  metrics: RelayMetrics;
  health: HealthState;
  /** The walsender of the relay's replication connection, null between sessions. */
  walsenderPid: () => number | null;
  /** PostgreSQL invalidated the slot: the relay stops with this error (called once). */
  invalidated: (error: RelayError) => void;
}

/** pg_replication_slots.wal_status's values (13+), each a series of outbox_relay_slot_wal_status. */
export const WAL_STATUSES = ['reserved', 'extended', 'unreserved', 'lost'] as const;

/** What one row of the check says; `ourPid` is this relay's walsender, null between sessions. */
export function slotHealthOf(row: SlotHealthRow, ourPid: number | null, now: Date): SlotHealth {
  return {
    heldByUs: ourPid !== null && row.active_pid === ourPid,
    walStatus: row.wal_status,
    safeWalSizeBytes: row.safe_wal_size === null ? null : Number(row.safe_wal_size),
    conflicting: row.conflicting,
    invalidationReason: slotInvalidation(row),
    lagBytes: row.lag === null ? null : Number(row.lag),
    checkedAt: now.toISOString(),
  };
}

/** Moves the outbox_relay_slot_* gauges to what the check found. */
export function showSlotHealth(metrics: RelayMetrics, slot: SlotHealth): void {
  metrics.slotWalStatus.reset();
  const statuses: string[] = [...WAL_STATUSES];
  if (slot.walStatus !== null && !statuses.includes(slot.walStatus)) statuses.push(slot.walStatus);
  for (const status of statuses)
    metrics.slotWalStatus.set({ status }, status === slot.walStatus ? 1 : 0);
  metrics.slotSafeWalSize.set(slot.safeWalSizeBytes ?? Number.NaN);
  metrics.slotConflicting.set(slot.conflicting === true ? 1 : 0);
  metrics.slotInvalidated.reset();
  if (slot.invalidationReason === null) metrics.slotInvalidated.set({ reason: '' }, 0);
  else metrics.slotInvalidated.set({ reason: slot.invalidationReason }, 1);
  metrics.slotHeld.set(slot.heldByUs ? 1 : 0);
}

export interface SlotHealthCheck {
  /** Checks now, beside the timer (a session just took the slot: show it held at once). */
  now(): void;
  stop(): Promise<void>;
}

/** Starts the check (the first at once). Never throws. */
export function startSlotHealth(deps: SlotHealthDeps): SlotHealthCheck {
  const intervalMs = deps.config.slotCheckIntervalMs;
  if (intervalMs <= 0) return { now: () => undefined, stop: () => Promise.resolve() };
  deps.health.slotChecksEvery(intervalMs);
  const check = new SlotCheck(deps);
  const extra = new Set<Promise<void>>();
  const now = () => {
    const running = check.run().finally(() => extra.delete(running));
    extra.add(running);
  };
  now();
  const stop = every(intervalMs, () => check.run());
  return {
    now,
    stop: async () => {
      await stop();
      await Promise.all(extra);
      await check.close();
    },
  };
}

class SlotCheck {
  private readonly deps: SlotHealthDeps;
  private readonly log: Logger;
  private pool: { db: DbPool; host: string } | null = null;
  private failing = false;
  private walStatus: string | null = null;
  private reported = false;
  private closed = false;

  constructor(deps: SlotHealthDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ stage: 'slot-health' });
  }

  async run(): Promise<void> {
    if (this.closed) return;
    const { config, health, metrics } = this.deps;
    try {
      const row = await readSlotHealth(this.db(), config.slot);
      if (!row) throw new Error(`replication slot "${config.slot}" does not exist`);
      const slot = slotHealthOf(row, this.deps.walsenderPid(), new Date());
      health.slot = slot;
      health.slotCheckError = null;
      showSlotHealth(metrics, slot);
      this.judge(slot);
    } catch (error) {
      metrics.slotCheckErrors.inc();
      health.slotCheckError = errorMessage(error);
      if (!this.failing) this.log.warn({ err: error }, 'slot health check failed; trying again');
      this.failing = true;
    }
  }

  private judge(slot: SlotHealth): void {
    if (this.failing)
      this.log.info({ slot: this.deps.config.slot }, 'slot health check works again');
    this.failing = false;
    if (slot.walStatus !== this.walStatus && slot.walStatus === 'unreserved') {
      this.log.warn(
        { slot: this.deps.config.slot, safeWalSizeBytes: slot.safeWalSizeBytes },
        'the slot is about to lose WAL it needs (wal_status unreserved, past max_slot_wal_keep_size): PostgreSQL invalidates it at the next checkpoint unless the relay catches up',
      );
    }
    this.walStatus = slot.walStatus;
    if (slot.invalidationReason !== null && !this.reported) {
      this.reported = true;
      this.deps.invalidated(invalidatedSlotError(this.deps.config.slot, slot.invalidationReason));
    }
  }

  /** The pool, opened again on the new server after a multi-host RELAY_PG_URL moved. */
  private db(): DbPool {
    const host = currentHost(this.deps.config.pgUrl);
    if (this.pool?.host !== host) {
      void this.pool?.db.end().catch(() => undefined);
      const db = createDbPool(this.deps.config.pgUrl, 'slot-health', { max: 1 });
      db.on('error', () => undefined); // a broken connection fails the next check, which says so
      this.pool = { db, host };
    }
    return this.pool.db;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.db.end().catch(() => undefined);
    this.pool = null;
  }
}
