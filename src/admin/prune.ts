/**
 * Retention for the outbox: deletes rows older than RELAY_RETENTION, a small batch per short
 * transaction, and never a row whose transaction the relay's slot has not confirmed. The
 * publication is insert-only, so these deletes never reach Kafka.
 *
 * Why a deleted row is always already in Kafka (the one rule of this file):
 *   1. Observe a watermark: first X, the xmin of a fresh snapshot (every transaction with an
 *      older xid has ended), then L, the end of a WAL message written just after. A transaction
 *      stops being in progress only after its commit record is in the WAL, so every transaction
 *      older than X committed before L.
 *   2. Wait until the slot's confirmed_flush_lsn >= L. The relay confirms a position only once
 *      Kafka holds every event committed before it, so Kafka now holds every transaction < X.
 *   3. Delete rows with created_at < now() - retention AND xmin older than X.
 * Nothing here trusts created_at or assumes short transactions: created_at only says what is old
 * enough, and a long transaction holds X back, which delays pruning, never hastens it. A row
 * inserted in a subtransaction has an xmin above its parent's xid, so it is covered as well.
 * xids are compared with age(), modulo 2^32: exact for every transaction that was in progress
 * (Postgres keeps those within 2^31 of the next xid); rows older than that may be kept.
 * Residual assumption: nothing but the relay moves the slot. Advancing it by hand, or dropping
 * and recreating it, tells prune that Kafka holds what the slot skipped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RelayConfig } from '../config/schema.ts';
import { RelayError } from '../domain/errors.ts';
import { formatLsn, parseLsn, type Lsn } from '../domain/lsn.ts';
import { createDbClient, type Db, type DbClient } from '../db/client.ts';
import { quoteIdent } from '../db/sql.ts';
import { readSlotConfirmed } from '../db/slots.ts';
import type { Logger } from '../ops/logger.ts';

export interface PruneTarget {
  pgUrl: string;
  schema: string;
  table: string;
  slot: string;
  retentionMs: number;
  batchSize: number;
}

/** The outbox and slot that the relay's configuration names, with its retention settings. */
export function pruneTargetFrom(config: RelayConfig): PruneTarget {
  return {
    pgUrl: config.pgUrl,
    schema: config.outboxSchema,
    table: config.outboxTable,
    slot: config.slot,
    retentionMs: config.retentionMs,
    batchSize: config.pruneBatchSize,
  };
}

/** Every transaction with an xid below `xmin` committed (or aborted) before `lsn`. */
export interface Watermark {
  readonly xmin: bigint;
  readonly lsn: Lsn;
}

export interface PruneOptions {
  dryRun?: boolean;
  /** Pause between batches, so that prune never crowds out the application. */
  pauseMs?: number;
  /** Stops between batches. */
  signal?: AbortSignal;
}

export interface PruneCounts {
  /** created_at bound: rows older than this are due. */
  cutoff: Date;
  deleted: number;
  batches: number;
  /** Dry run: rows a real run would delete now. */
  wouldDelete: number;
  /** Rows older than the cutoff left in place: not confirmed by the slot yet (or locked). */
  kept: number;
}

export interface PruneReport extends PruneCounts {
  watermarkLsn: string;
  confirmedFlushLsn: string;
  /** False when the slot did not reach the watermark in time: nothing was deleted. */
  confirmed: boolean;
}

const PAUSE_MS = 50;
const POLL_MS = 200;
/** Longest wait for a table lock (DDL): prune must not queue the application's inserts. */
const LOCK_TIMEOUT = '2s';
const WATERMARK_MESSAGE_PREFIX = 'outbox-relay-prune';
const XID_MASK = 0xffff_ffffn;

const SQL = {
  snapshotXmin: `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`,
  // Non-transactional: written at once, decoded by the slot, ignored by pgoutput.
  emitMessage: `SELECT pg_logical_emit_message(false, $1, '')::text AS lsn`,
  cutoff: `SELECT now() - $1::bigint * interval '1 millisecond' AS cutoff`,
  /** `age(xmin) > age(X)`: the row's xid is older than X, counted back from one stable xid. */
  due: `created_at < $1 AND age(xmin) > age($2::text::xid)`,
} as const;

/** Step 1 of the rule: X from a snapshot, then L from a WAL record written after it. */
export async function observeWatermark(db: Db): Promise<Watermark> {
  const snapshot = await db.query<{ xmin: string }>(SQL.snapshotXmin);
  const message = await db.query<{ lsn: string }>(SQL.emitMessage, [WATERMARK_MESSAGE_PREFIX]);
  return {
    xmin: BigInt(snapshot.rows[0]?.xmin ?? '0'),
    lsn: parseLsn(message.rows[0]?.lsn ?? '0/0'),
  };
}

/** The slot's confirmed position; a missing slot, or one of another database, is an error. */
export async function slotConfirmedLsn(db: Db, slot: string): Promise<Lsn> {
  const row = await readSlotConfirmed(db, slot);
  if (!row || !row.here || row.lsn === null) {
    throw new RelayError(
      'PG_SLOT',
      `replication slot "${slot}" ${row ? 'is not a logical slot of this database' : 'does not exist'}`,
      {
        hint: "prune deletes only what the relay's slot has confirmed: set RELAY_SLOT to the slot `outbox-relay run` uses.",
      },
    );
  }
  return parseLsn(row.lsn);
}

/** Step 2: polls until the slot confirms `lsn`; resolves with the last confirmed position. */
export async function waitForSlot(db: Db, slot: string, lsn: Lsn, timeoutMs: number): Promise<Lsn> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const confirmed = await slotConfirmedLsn(db, slot);
    if (confirmed >= lsn || Date.now() >= deadline) return confirmed;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

/** One run of `outbox-relay prune`: the whole rule, waiting up to `waitMs` for the slot. */
export async function pruneOnce(
  db: Db,
  target: PruneTarget,
  options: PruneOptions & { waitMs: number },
): Promise<PruneReport> {
  await prepareSession(db);
  const watermark = await observeWatermark(db);
  const confirmed = await waitForSlot(db, target.slot, watermark.lsn, options.waitMs);
  const reached = confirmed >= watermark.lsn;
  const counts = reached
    ? await pruneUpTo(db, target, watermark, options)
    : await keptOnly(db, target);
  return {
    ...counts,
    watermarkLsn: formatLsn(watermark.lsn),
    confirmedFlushLsn: formatLsn(confirmed),
    confirmed: reached,
  };
}

/** Step 3, for a watermark the slot has confirmed: deletes (or counts) what is due. */
export async function pruneUpTo(
  db: Db,
  target: PruneTarget,
  watermark: Watermark,
  options: PruneOptions = {},
): Promise<PruneCounts> {
  const cutoff = await cutoffOf(db, target);
  const xmin = String(watermark.xmin & XID_MASK);
  const table = tableName(target);
  if (options.dryRun) {
    const { rows } = await db.query<{ due: string; old: string }>(
      `SELECT count(*) FILTER (WHERE age(xmin) > age($2::text::xid)) AS due, count(*) AS old
         FROM ${table} WHERE created_at < $1`,
      [cutoff, xmin],
    );
    const due = Number(rows[0]?.due ?? 0);
    return { cutoff, deleted: 0, batches: 0, wouldDelete: due, kept: Number(rows[0]?.old) - due };
  }
  // ctid = ANY(ARRAY(...)) is a TID scan: the LIMIT subquery walks the created_at index, and
  // SKIP LOCKED means a batch never waits on a row someone else holds.
  const batch = `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(
                   SELECT ctid FROM ${table} WHERE ${SQL.due} LIMIT $3 FOR UPDATE SKIP LOCKED))`;
  let deleted = 0;
  let batches = 0;
  while (!options.signal?.aborted) {
    const { rowCount } = await db.query(batch, [cutoff, xmin, target.batchSize]).catch(explain);
    if (rowCount) [deleted, batches] = [deleted + rowCount, batches + 1];
    if ((rowCount ?? 0) < target.batchSize) break;
    await sleep(options.pauseMs ?? PAUSE_MS, undefined, { signal: options.signal }).catch(
      () => undefined,
    );
  }
  return { cutoff, deleted, batches, wouldDelete: 0, kept: await countOld(db, table, cutoff) };
}

/**
 * For `run`: prunes without ever waiting. Each tick prunes up to the watermark of an earlier
 * tick once the slot has confirmed it, then observes the next one, so rows go one interval
 * after they are due at the latest.
 */
export class ScheduledPrune {
  private readonly target: PruneTarget;
  private readonly log: Logger;
  private readonly stopping = new AbortController();
  private pending: Watermark | null = null;

  constructor(target: PruneTarget, log: Logger) {
    this.target = target;
    this.log = log;
  }

  /** Never throws: a failure is logged and the next tick tries again. */
  async tick(): Promise<void> {
    const db = createDbClient(this.target.pgUrl, 'prune');
    db.on('error', () => undefined);
    try {
      await db.connect();
      await prepareSession(db);
      await this.step(db);
    } catch (error) {
      this.log.warn(
        { err: error, hint: hintFor(error) },
        'scheduled prune failed; trying again at the next interval (RELAY_PRUNE_INTERVAL_MS)',
      );
    } finally {
      await db.end().catch(() => undefined);
    }
  }

  /** Ends a running prune after its current batch. */
  stop(): void {
    this.stopping.abort();
  }

  private async step(db: DbClient): Promise<void> {
    const pending = this.pending;
    if (pending && (await slotConfirmedLsn(db, this.target.slot)) >= pending.lsn) {
      const counts = await pruneUpTo(db, this.target, pending, { signal: this.stopping.signal });
      this.pending = null;
      const fields = { ...counts, retention: formatRetention(this.target.retentionMs) };
      if (counts.deleted > 0) this.log.info(fields, 'pruned published outbox rows');
      else this.log.debug(fields, 'prune: no published outbox rows older than the retention');
    }
    if (!this.stopping.signal.aborted) this.pending ??= await observeWatermark(db);
  }
}

/** Human form of a retention in milliseconds, in the unit it was most likely given in. */
export function formatRetention(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms / 1000}s`;
}

/** Short statements that never queue behind a lock for long. */
async function prepareSession(db: Db): Promise<void> {
  await db.query(`SET lock_timeout = '${LOCK_TIMEOUT}'`);
}

async function keptOnly(db: Db, target: PruneTarget): Promise<PruneCounts> {
  const cutoff = await cutoffOf(db, target);
  const kept = await countOld(db, tableName(target), cutoff);
  return { cutoff, deleted: 0, batches: 0, wouldDelete: 0, kept };
}

async function cutoffOf(db: Db, target: PruneTarget): Promise<Date> {
  const { rows } = await db.query<{ cutoff: Date }>(SQL.cutoff, [target.retentionMs]);
  // node-postgres keeps milliseconds only: the bound moves earlier, never later.
  return rows[0]?.cutoff ?? new Date(0);
}

async function countOld(db: Db, table: string, cutoff: Date): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${table} WHERE created_at < $1`,
    [cutoff],
  );
  return Number(rows[0]?.n ?? 0);
}

function tableName(target: PruneTarget): string {
  return `${quoteIdent(target.schema)}.${quoteIdent(target.table)}`;
}

function hintFor(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (code === '42501')
    return 'prune needs DELETE on the outbox table: GRANT DELETE to this role, or prune as a role that has it (`outbox-relay prune` from cron) and set RELAY_PRUNE_INTERVAL_MS=0 for this one';
  if (code === '55P03') return 'a lock on the outbox table (DDL?) held prune back; it tries again';
  return error instanceof RelayError ? error.hint : undefined;
}

function explain(error: unknown): never {
  const hint = hintFor(error);
  if (!hint) throw error;
  throw new RelayError('INTERNAL', `prune failed: ${(error as Error).message}`, {
    cause: error,
    hint,
  });
}
