/**
 * What `outbox-relay offsets` reads and changes: the slot's position, how far it is behind, who
 * streams from it, and moving it forward (or recreating it) on an operator's explicit request.
 *
 * Invariants:
 * - A slot only moves forward. Going back means reading the outbox table again (`replay`).
 * - Nothing here moves or decodes a slot that a relay streams from: Postgres refuses to hand an
 *   active slot to a second process, and we refuse before asking.
 * - Decoding for counts and for `--to-time` uses the `peek` functions, which never confirm
 *   anything: the slot is exactly where it was afterwards.
 */
import { errorMessage, RelayError } from '../domain/errors.ts';
import { formatLsn, parseLsn, type Lsn } from '../domain/lsn.ts';
import { decodePgoutput } from '../decode/pgoutput.ts';
import type { Db } from '../db/client.ts';
import { quoteIdent } from '../db/sql.ts';
import {
  advanceSlotTo,
  createSlot,
  dropSlot,
  readSlotStatusRow,
  readWalsenderRow,
} from '../db/slots.ts';
import { slotInvalidation } from '../source/slot.ts';
import { checkpointKey, decodeCheckpoint, type Checkpoint } from '../publish/checkpoint.ts';
import type { ServerIdentity } from '../domain/server-identity.ts';
import type { KafkaSink } from '../publish/kafka.ts';

/** Candidates for src/db/sql.ts; kept here while several people edit that file. */
const OFFSETS_SQL = {
  // Only the first bytes of Begin messages travel: the tag of every other row is enough.
  peek: `SELECT get_byte(c.data, 0) AS tag,
                CASE WHEN get_byte(c.data, 0) = ${'B'.charCodeAt(0)}
                     THEN substring(c.data FROM 1 FOR 21) END AS begin
           FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, $3::int,
                  'proto_version', '1', 'publication_names', $4) WITH ORDINALITY AS c(lsn, xid, data, n)
          ORDER BY c.n`,
  flushLsn: `SELECT pg_current_wal_flush_lsn()::text AS lsn,
                    current_setting('wal_block_size')::int AS block,
                    pg_size_bytes(current_setting('wal_segment_size'))::text AS segment`,
  timeMicros: `SELECT (extract(epoch FROM $1::timestamptz) * 1000000)::bigint::text AS micros`,
} as const;

const INSERT_TAG = 'I'.charCodeAt(0);
const MAX_INT4 = 2 ** 31 - 1;
/** SQLSTATE object_in_use: the slot is active for another process. */
const OBJECT_IN_USE = '55006';

export interface Walsender {
  readonly pid: number;
  readonly applicationName: string | null;
  readonly clientAddr: string | null;
  readonly state: string | null;
  readonly flushLsn: Lsn | null;
  /** pg_stat_replication.flush_lag; null when Postgres has no recent sample. */
  readonly flushLagSeconds: number | null;
}

export interface SlotStatus {
  readonly slot: string;
  readonly slotType: string;
  readonly plugin: string | null;
  readonly confirmedFlushLsn: Lsn | null;
  readonly restartLsn: Lsn | null;
  /** pg_current_wal_lsn(): the WAL written so far, what lag is measured against. */
  readonly currentWalLsn: Lsn;
  /** pg_current_wal_insert_lsn(): past every commit made so far, even asynchronous ones. */
  readonly insertWalLsn: Lsn;
  /**
   * Why PostgreSQL invalidated the slot (invalidation_reason on 17+, a recovery conflict on 16,
   * wal_status lost), or null while it can stream; absent where not read.
   */
  invalidation?: string | null;
  /** reserved, extended, unreserved or lost (PostgreSQL 13+); null on older servers. */
  readonly walStatus: string | null;
  /** Bytes of WAL that can still be written before the slot is lost; null: no limit set. */
  readonly safeWalSizeBytes: number | null;
  /** False when the server has no safe_wal_size column (before 13). */
  readonly hasSafeWalSize: boolean;
  readonly active: boolean;
  readonly activePid: number | null;
  /** The walsender that streams from the slot, when one is attached and visible to us. */
  readonly walsender: Walsender | null;
  /** The server's clock, in Unix microseconds, read with the rest. */
  readonly serverNowMicros: bigint;
}

/** A transaction the slot has not confirmed yet, as pgoutput's Begin message tells it. */
export interface PendingTransaction {
  readonly commitLsn: Lsn;
  readonly commitTimeMicros: bigint;
  /** Rows inserted into the outbox (the publication is on the outbox alone, inserts only). */
  readonly events: number;
}

export interface EventCount {
  readonly count: number;
  /** False when decoding stopped early (too many rows): `count` is then a lower bound. */
  readonly exact: boolean;
}

/** Reads the slot, the server's WAL position and the walsender attached to the slot, if any. */
export async function readSlotStatus(db: Db, slot: string): Promise<SlotStatus> {
  const row = await readSlotStatusRow(db, slot);
  if (!row) {
    throw new RelayError('PG_SLOT', `replication slot "${slot}" does not exist`, {
      hint: 'Run "outbox-relay migrate" (it creates the slot), or set RELAY_SLOT to the slot the relay uses.',
    });
  }
  const s = row.slot;
  const activePid = typeof s.active_pid === 'number' ? s.active_pid : null;
  return {
    slot,
    slotType: String(s.slot_type),
    plugin: typeof s.plugin === 'string' ? s.plugin : null,
    confirmedFlushLsn: lsnOrNull(s.confirmed_flush_lsn),
    restartLsn: lsnOrNull(s.restart_lsn),
    currentWalLsn: parseLsn(row.current_lsn),
    insertWalLsn: parseLsn(row.insert_lsn),
    walStatus: typeof s.wal_status === 'string' ? s.wal_status : null,
    invalidation: slotInvalidation({
      invalidation_reason: typeof s.invalidation_reason === 'string' ? s.invalidation_reason : null,
      conflicting: s.conflicting === true,
      wal_status: typeof s.wal_status === 'string' ? s.wal_status : null,
    }),
    safeWalSizeBytes: typeof s.safe_wal_size === 'number' ? s.safe_wal_size : null,
    hasSafeWalSize: 'safe_wal_size' in s,
    active: s.active === true,
    activePid,
    walsender: activePid === null ? null : await readWalsender(db, activePid),
    serverNowMicros: BigInt(row.now_micros),
  };
}

async function readWalsender(db: Db, pid: number): Promise<Walsender | null> {
  const row = await readWalsenderRow(db, pid);
  if (!row) return null;
  return {
    pid,
    applicationName: row.application_name,
    clientAddr: row.client_addr,
    state: row.state,
    flushLsn: lsnOrNull(row.flush_lsn),
    flushLagSeconds: row.flush_lag_seconds,
  };
}

function lsnOrNull(value: unknown): Lsn | null {
  return typeof value === 'string' ? parseLsn(value) : null;
}

/** WAL bytes between the server's position and the slot's confirmed position. */
export function lagBytes(status: SlotStatus): bigint | null {
  if (status.confirmedFlushLsn === null) return null;
  const lag = status.currentWalLsn - status.confirmedFlushLsn;
  return lag > 0n ? lag : 0n;
}

/** How far behind the slot is in time, and where that figure comes from. */
export interface LagTime {
  readonly seconds: number | null;
  readonly source: 'flush_lag' | 'peek' | 'unknown';
  /** With `peek`: the oldest transaction with outbox rows that the slot has not confirmed. */
  readonly oldestPending: PendingTransaction | null;
  readonly note: string;
}

/**
 * Postgres records no commit time for an LSN, so the lag in time is only known from a
 * measurement: the attached walsender's flush_lag (how long the relay's latest confirmation
 * took after the WAL was written), or, with no relay attached and `peek`, by decoding the slot
 * up to its first pending outbox transaction and reading that commit's time.
 */
export async function lagInTime(
  db: Db,
  status: SlotStatus,
  options: { peek: boolean; publication: string },
): Promise<LagTime> {
  if (status.active) return walsenderLag(status);
  if (
    !options.peek ||
    status.walStatus === 'lost' ||
    status.invalidation ||
    status.plugin !== 'pgoutput'
  ) {
    return unknownLag(
      'no relay attached: Postgres keeps no commit time per LSN; --peek decodes the slot to find the oldest pending commit',
    );
  }
  try {
    const target = { slot: status.slot, publication: options.publication };
    const oldest = await oldestPending(db, target, status.currentWalLsn);
    if (!oldest)
      return { ...unknownLag('no outbox transaction pending'), seconds: 0, source: 'peek' };
    const micros = status.serverNowMicros - oldest.commitTimeMicros;
    return {
      seconds: Math.max(0, Number(micros) / 1e6),
      source: 'peek',
      oldestPending: oldest,
      note: 'age of the oldest outbox transaction the slot has not confirmed',
    };
  } catch (error) {
    if (error instanceof RelayError && error.code === 'PG_SLOT_BUSY')
      return unknownLag('a relay attached to the slot while it was being decoded');
    throw error;
  }
}

function walsenderLag({ walsender, activePid }: SlotStatus): LagTime {
  if (!walsender) {
    return unknownLag(
      `the slot is in use (pid ${activePid}) but has no pg_stat_replication row: a SQL session holds it, or this role cannot see it`,
    );
  }
  if (walsender.flushLagSeconds === null) {
    return {
      ...unknownLag(
        'pg_stat_replication.flush_lag has no recent sample: no WAL was sent lately, so the relay is usually caught up (see lag in bytes); or this role lacks pg_read_all_stats',
      ),
      source: 'flush_lag',
    };
  }
  return {
    seconds: walsender.flushLagSeconds,
    source: 'flush_lag',
    oldestPending: null,
    note: "pg_stat_replication.flush_lag: how long after the WAL was written the relay's latest confirmation came",
  };
}

function unknownLag(note: string): LagTime {
  return { seconds: null, source: 'unknown', oldestPending: null, note };
}

/**
 * Decodes the slot from its confirmed position up to `uptoLsn` without consuming anything, and
 * returns the transactions with outbox rows in commit order. Stops after the transaction that
 * makes `maxRows` output rows (each row costs the server memory or temp space until the call
 * ends); `complete` says whether it got to `uptoLsn`.
 */
export async function peekTransactions(
  db: Db,
  target: { slot: string; publication: string },
  uptoLsn: Lsn,
  maxRows: number,
): Promise<{ transactions: PendingTransaction[]; complete: boolean }> {
  const { rows } = await db
    .query<{ tag: number; begin: Buffer | null }>(OFFSETS_SQL.peek, [
      target.slot,
      formatLsn(uptoLsn),
      maxRows,
      quoteIdent(target.publication),
    ])
    .catch((error: unknown) => {
      throw decodingError(target, error);
    });
  return { transactions: groupTransactions(rows), complete: rows.length < maxRows };
}

/** Folds pgoutput rows (Begin, Relation, Insert..., Commit) into transactions. */
export function groupTransactions(
  rows: readonly { tag: number; begin: Buffer | null }[],
): PendingTransaction[] {
  const transactions: PendingTransaction[] = [];
  let current: { commitLsn: Lsn; commitTimeMicros: bigint; events: number } | null = null;
  for (const row of rows) {
    if (row.begin) {
      const message = decodePgoutput(row.begin);
      if (message.tag !== 'begin') throw new Error(`expected a Begin message, got ${message.tag}`);
      current = {
        commitLsn: message.finalLsn,
        commitTimeMicros: message.commitTimeMicros,
        events: 0,
      };
      transactions.push(current);
    } else if (row.tag === INSERT_TAG && current) {
      current.events++;
    }
  }
  return transactions;
}

function decodingError(target: { slot: string; publication: string }, error: unknown): RelayError {
  if (isSlotBusy(error)) return slotBusyError(target.slot, error);
  const message = errorMessage(error);
  return new RelayError('PG_SLOT', `cannot decode slot "${target.slot}": ${message}`, {
    cause: error,
    hint: `Check that RELAY_PUBLICATION ("${target.publication}") is the relay's publication.`,
  });
}

/** The oldest transaction with outbox rows that the slot has not confirmed, if any. */
export async function oldestPending(
  db: Db,
  target: { slot: string; publication: string },
  uptoLsn: Lsn,
): Promise<PendingTransaction | null> {
  const { transactions } = await peekTransactions(db, target, uptoLsn, 1);
  return transactions[0] ?? null;
}

/** How many outbox rows commit before `to`: what moving the slot to `to` skips. */
export async function countEventsBefore(
  db: Db,
  target: { slot: string; publication: string },
  to: Lsn,
  maxRows: number,
): Promise<EventCount> {
  const { transactions, complete } = await peekTransactions(db, target, to, maxRows);
  return { count: sumEvents(transactions.filter((t) => t.commitLsn < to)), exact: complete };
}

function sumEvents(transactions: readonly PendingTransaction[]): number {
  return transactions.reduce((sum, t) => sum + t.events, 0);
}

export interface TimeTarget {
  /** Where to move the slot: the commit LSN of the first transaction at or after the time. */
  readonly lsn: Lsn;
  /** That transaction, or null when every pending transaction committed before the time. */
  readonly firstKept: PendingTransaction | null;
  readonly skipped: EventCount;
}

/**
 * The position before the first outbox transaction that committed at or after `timeMicros`,
 * found by decoding the slot forward (commit times come from the WAL's commit records, so
 * track_commit_timestamp is not needed). Commit times are taken just before the commit is
 * written, so concurrent commits can be slightly out of order in the WAL: choosing the first
 * one in WAL order never skips a transaction committed at or after the time, and may keep a
 * few that committed a moment before it.
 *
 * Reads in growing steps (each call decodes from the start again) so that the server
 * materialises a few times what lies before the target, not the whole backlog.
 */
export async function findTimeTarget(
  db: Db,
  target: { slot: string; publication: string },
  from: Lsn,
  timeMicros: bigint,
  uptoLsn: Lsn,
): Promise<TimeTarget> {
  for (let maxRows = 1024; ; maxRows = Math.min(maxRows * 4, MAX_INT4)) {
    const { transactions, complete } = await peekTransactions(db, target, uptoLsn, maxRows);
    const index = transactions.findIndex((t) => t.commitTimeMicros >= timeMicros);
    const firstKept = index >= 0 ? (transactions[index] as PendingTransaction) : null;
    if (firstKept || complete) {
      const skipped = firstKept ? transactions.slice(0, index) : transactions;
      // Nothing to skip: stay put rather than step over WAL of other tables for no reason.
      const lsn = index === 0 ? from : (firstKept?.commitLsn ?? uptoLsn);
      return { lsn, firstKept, skipped: { count: sumEvents(skipped), exact: true } };
    }
  }
}

/** Parses a timestamp with Postgres (microsecond precision, as commit times have). */
export async function timestampMicros(db: Db, iso: string): Promise<bigint> {
  const { rows } = await db.query<{ micros: string }>(OFFSETS_SQL.timeMicros, [iso]);
  return BigInt(rows[0]?.micros ?? '0');
}

export type ResetTarget =
  | { readonly kind: 'lsn'; readonly lsn: Lsn }
  | { readonly kind: 'time'; readonly time: string }
  | { readonly kind: 'now' }
  | { readonly kind: 'recreate' };

export interface ResetPlan {
  readonly slot: string;
  readonly target: ResetTarget;
  readonly from: Lsn | null;
  /** For recreate: the server's position now; the new slot starts at or just after it. */
  readonly to: Lsn;
  /** Outbox rows the slot will never send (null: not counted). */
  readonly skipped: EventCount | null;
  /** For a time target: the first transaction kept, null when all pending ones are skipped. */
  readonly firstKept: PendingTransaction | null;
}

export interface PlanOptions {
  readonly publication: string;
  /** Decode the slot to count the outbox rows skipped (costs a pass over that WAL). */
  readonly countEvents: boolean;
  /** Most output rows to decode for the count; beyond it the count is a lower bound. */
  readonly maxRows: number;
  /** How long to wait for the server to flush the WAL up to "now". */
  readonly flushTimeoutMs: number;
}

/** Resolves the target and checks it, without changing anything. */
export async function planReset(
  db: Db,
  status: SlotStatus,
  target: ResetTarget,
  options: PlanOptions,
): Promise<ResetPlan> {
  checkMovable(status);
  const slotTarget = { slot: status.slot, publication: options.publication };
  const base = { slot: status.slot, target, skipped: null, firstKept: null };
  // "Now" is the insert position: past every commit made so far. Decoding and advancing stop at
  // the flushed position, which trails it under synchronous_commit = off until the WAL writer
  // catches up; a target short of a commit would relay that commit.
  const now = status.insertWalLsn;
  await waitForFlush(db, now, options.flushTimeoutMs);
  if (target.kind === 'recreate') {
    const from = status.confirmedFlushLsn;
    const countable =
      options.countEvents && from !== null && status.walStatus !== 'lost' && !status.invalidation;
    const skipped = countable
      ? await countEventsBefore(db, slotTarget, now, options.maxRows)
      : null;
    return { ...base, from, to: now, skipped };
  }
  const from = checkAdvanceable(status);
  if (target.kind === 'time') {
    const micros = await timestampMicros(db, target.time);
    if (micros > status.serverNowMicros) {
      throw new RelayError(
        'CONFIG_INVALID',
        `--to-time ${target.time} is later than the server's clock (${isoMicros(status.serverNowMicros)})`,
        { hint: 'Give a past time, or use --to-now.' },
      );
    }
    const found = await findTimeTarget(db, slotTarget, from, micros, now);
    return { ...base, from, to: found.lsn, skipped: found.skipped, firstKept: found.firstKept };
  }
  const to = target.kind === 'lsn' ? target.lsn : now;
  checkTarget(status, from, to);
  const skipped =
    options.countEvents && to > from
      ? await countEventsBefore(db, slotTarget, to, options.maxRows)
      : null;
  return { ...base, from, to, skipped };
}

/** Carries out a plan; returns the slot's new position. */
export async function applyReset(db: Db, plan: ResetPlan): Promise<Lsn> {
  if (plan.target.kind === 'recreate') return recreateSlot(db, plan.slot);
  return advanceSlot(db, plan.slot, plan.to);
}

/** Checks that the slot is a pgoutput slot that nothing streams from. */
export function checkMovable(status: SlotStatus): void {
  if (status.slotType !== 'logical' || status.plugin !== 'pgoutput') {
    throw new RelayError(
      'PG_SLOT',
      `slot "${status.slot}" is ${status.slotType}/${status.plugin ?? '-'}, not logical/pgoutput`,
      { hint: 'Set RELAY_SLOT to the slot of the relay.' },
    );
  }
  if (status.active) throw slotBusyError(status.slot, null, status);
}

export function slotBusyError(slot: string, cause: unknown, status?: SlotStatus): RelayError {
  const who = status?.walsender?.applicationName ?? 'a relay';
  const pid = status?.activePid ? ` (pid ${status.activePid}, ${who})` : '';
  return new RelayError('PG_SLOT_BUSY', `slot "${slot}" is in use by a streaming process${pid}`, {
    cause,
    hint: 'Stop every relay that uses this slot (standbys too: they take over when it is free), then run this again.',
  });
}

export function isSlotBusy(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === OBJECT_IN_USE;
}

/** Checks that the slot can still be moved: it has a position, and the WAL it needs. */
export function checkAdvanceable(status: SlotStatus): Lsn {
  if (status.invalidation) {
    throw new RelayError(
      'PG_SLOT_INVALIDATED',
      `slot "${status.slot}" was invalidated by PostgreSQL (${status.invalidation}): it cannot move or stream`,
      {
        hint: 'Use "outbox-relay offsets reset --recreate --yes", then "outbox-relay replay" for the gap.',
      },
    );
  }
  if (status.walStatus === 'lost') {
    throw new RelayError('PG_SLOT', `slot "${status.slot}" is lost: the WAL it needs was removed`, {
      hint: 'Use "outbox-relay offsets reset --recreate --yes", then "outbox-relay replay" for the gap.',
    });
  }
  if (status.confirmedFlushLsn === null) {
    throw new RelayError('PG_SLOT', `slot "${status.slot}" has no confirmed position yet`, {
      hint: 'Start the relay once, or use --recreate.',
    });
  }
  return status.confirmedFlushLsn;
}

/** Refuses targets the slot cannot reach: behind its position, or beyond the server's WAL. */
export function checkTarget(status: SlotStatus, from: Lsn, to: Lsn): void {
  if (to < from) {
    throw new RelayError(
      'PG_SLOT',
      `cannot move slot "${status.slot}" back from ${formatLsn(from)} to ${formatLsn(to)}: a replication slot only moves forward`,
      {
        hint: 'To send events again, read them from the outbox table with "outbox-relay replay"; the slot cannot give back WAL it has confirmed.',
      },
    );
  }
  if (to > status.insertWalLsn) {
    throw new RelayError(
      'PG_SLOT',
      `${formatLsn(to)} is beyond the server's current WAL position ${formatLsn(status.insertWalLsn)}`,
      { hint: 'Use --to-now to move the slot to the current position.' },
    );
  }
}

/** WAL page geometry of a server: wal_block_size and wal_segment_size. */
export interface WalGeometry {
  readonly block: bigint;
  readonly segment: bigint;
}

const SHORT_PAGE_HEADER = 24n;
const LONG_PAGE_HEADER = 40n;

/**
 * Whether the WAL flushed up to `flushed` holds everything before `target`. On an idle server the
 * insert position points just past the header of a page nobody has written yet (the long header on
 * a segment's first page), while the flush position stays at the page's start: nothing but that
 * header lies between them, so that counts as reached.
 */
export function flushReaches(flushed: Lsn, target: Lsn, wal: WalGeometry): boolean {
  if (flushed >= target) return true;
  const pageStart = target - (target % wal.block);
  const header = pageStart % wal.segment === 0n ? LONG_PAGE_HEADER : SHORT_PAGE_HEADER;
  return target - pageStart === header && flushed >= pageStart;
}

/** Waits until the server has flushed its WAL up to `lsn` (the WAL writer does, in time). */
export async function waitForFlush(db: Db, lsn: Lsn, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ lsn: string; block: number; segment: string }>(
      OFFSETS_SQL.flushLsn,
    );
    const row = rows[0];
    const flushed = parseLsn(row?.lsn ?? '0/0');
    const wal = { block: BigInt(row?.block ?? 8192), segment: BigInt(row?.segment ?? 16777216) };
    if (flushReaches(flushed, lsn, wal)) return;
    if (Date.now() > deadline) {
      throw new RelayError(
        'PG_SLOT',
        `the server has not flushed its WAL up to ${formatLsn(lsn)} within ${timeoutMs} ms (flushed: ${formatLsn(flushed)})`,
        { retriable: true, hint: 'Try again; check wal_writer_delay and the disk of the server.' },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Moves the slot to `to` and returns where Postgres put it. */
export async function advanceSlot(db: Db, slot: string, to: Lsn): Promise<Lsn> {
  try {
    return await advanceSlotTo(db, slot, to);
  } catch (error) {
    if (isSlotBusy(error)) throw slotBusyError(slot, error);
    throw new RelayError('PG_SLOT', `cannot advance slot "${slot}": ${String(error)}`, {
      cause: error,
      hint: 'The role needs the REPLICATION attribute (or superuser); the slot is where it was.',
    });
  }
}

export { createSlot };

/**
 * Drops the slot and creates it again at the server's current position. Not atomic: if the
 * creation fails, the slot is gone, and `migrate` (or `run`) creates it.
 */
export async function recreateSlot(db: Db, slot: string): Promise<Lsn> {
  try {
    // A missing slot (gone with a failover) is created: this is the way out the relay names.
    await dropSlot(db, slot);
  } catch (error) {
    if (isSlotBusy(error)) throw slotBusyError(slot, error);
    throw new RelayError('PG_SLOT', `cannot drop slot "${slot}": ${String(error)}`, {
      cause: error,
      hint: 'The role needs the REPLICATION attribute (or superuser); the slot is unchanged.',
    });
  }
  try {
    return await createSlot(db, slot);
  } catch (error) {
    throw new RelayError('PG_SLOT', `dropped slot "${slot}" but could not create it again`, {
      cause: error,
      hint: 'Run "outbox-relay migrate" to create the slot.',
    });
  }
}

export interface CheckpointRead {
  readonly topic: string;
  /** The record key: the database history and the slot. */
  readonly key: string;
  readonly topicExists: boolean;
  readonly checkpoint: Checkpoint | null;
}

/**
 * The database history the checkpoint key names: the system identifier and the database (the
 * relay itself reads them with IDENTIFY_SYSTEM; the timeline is not part of the key).
 */
export async function checkpointIdentity(db: Db): Promise<ServerIdentity> {
  const { rows } = await db.query<{ system_id: string; database: string; timeline: number }>(
    `SELECT s.system_identifier::text AS system_id, current_database() AS database,
            c.timeline_id AS timeline
       FROM pg_control_system() s, pg_control_checkpoint() c`,
  );
  const row = rows[0];
  if (!row) throw new RelayError('PG_PROTOCOL', 'pg_control_system() returned no row');
  return { systemId: row.system_id, database: row.database, timeline: Number(row.timeline) };
}

/** The exactly-once checkpoint of the slot in this database, read with read_committed isolation. */
export async function readCheckpoint(
  sink: KafkaSink,
  topic: string,
  slot: string,
  identity: ServerIdentity,
): Promise<CheckpointRead> {
  let value: Buffer | null;
  const key = checkpointKey(identity, slot);
  try {
    value = await sink.readLatest(topic, key);
  } catch (error) {
    if (isUnknownTopic(error)) return { topic, key, topicExists: false, checkpoint: null };
    throw new RelayError(
      'KAFKA_CONNECT',
      `cannot read the checkpoint from topic "${topic}": ${errorMessage(error)}`,
      {
        cause: error,
        hint: 'Check RELAY_KAFKA_BROKERS and RELAY_CHECKPOINT_TOPIC, and that the brokers are up.',
      },
    );
  }
  const recorded = value ? decodeCheckpoint(value, { topic, key, slot }) : null;
  return { topic, key, topicExists: true, checkpoint: recorded?.checkpoint ?? null };
}

/**
 * kafkajs reports a missing topic as UNKNOWN_TOPIC_OR_PARTITION somewhere down the error's
 * cause chain. Belongs in src/publish/kafka.ts (readLatest could return null for a topic that
 * does not exist); read here, through `cause` and `type` only, until it moves.
 */
export function isUnknownTopic(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const { type, cause } = e as { type?: unknown; cause?: unknown };
    if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
    e = cause;
  }
  return false;
}

/** Unix microseconds as an ISO 8601 time with microseconds. */
export function isoMicros(unixMicros: bigint): string {
  const iso = new Date(Number(unixMicros / 1000n)).toISOString();
  const micros = String(((unixMicros % 1000n) + 1000n) % 1000n).padStart(3, '0');
  return `${iso.slice(0, 23)}${micros}Z`;
}
