/**
 * Every question asked about a replication slot over an ordinary connection, and every change
 * made to one (create, advance, drop): pg_replication_slots and pg_stat_replication are read here
 * and nowhere else. Rows come back as PostgreSQL gives them (LSNs as text, to_jsonb for columns
 * that depend on the server's version); what they mean, and which errors to raise, is for the
 * callers (src/source/slot.ts and the commands) to say.
 */
import { formatLsn, parseLsn, type Lsn } from '../domain/lsn.ts';
import type { Db, DbPool } from './client.ts';
import { ReplicationClient } from './replication-client.ts';
import { quoteIdent, SQL } from './sql.ts';

export const SLOT_SQL = {
  /**
   * invalidation_reason (17+) and conflicting (16+) are read through to_jsonb, which yields NULL
   * for a column the server lacks: one query for PostgreSQL 14 to 18.
   */
  info: `SELECT plugin, slot_type, database, active, active_pid,
                confirmed_flush_lsn::text AS confirmed_flush_lsn,
                restart_lsn::text AS restart_lsn, wal_status,
                to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason,
                (to_jsonb(s) ->> 'conflicting')::boolean AS conflicting
           FROM pg_replication_slots s WHERE slot_name = $1`,
  create: `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput')`,
  /** 17+: (slot_name, plugin, temporary, twophase, failover): a standby with sync_replication_slots keeps a copy. */
  createFailover: `SELECT lsn::text AS lsn FROM pg_create_logical_replication_slot($1, 'pgoutput', false, false, true)`,
  exists: 'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1',
  activePid: 'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
  holder: `SELECT s.active_pid AS pid, r.application_name, r.client_addr::text AS client_addr,
                  r.backend_start AS since,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint::text AS lag
             FROM pg_replication_slots s LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid
            WHERE s.slot_name = $1`,
  failover: 'SELECT failover FROM pg_replication_slots WHERE slot_name = $1',
  confirmedHere: `SELECT database = current_database() AS here, confirmed_flush_lsn::text AS lsn
                    FROM pg_replication_slots WHERE slot_name = $1`,
  // to_jsonb: safe_wal_size (13+) and later columns appear when the server has them.
  status: `SELECT to_jsonb(s) AS slot, pg_current_wal_lsn()::text AS current_lsn,
                  pg_current_wal_insert_lsn()::text AS insert_lsn,
                  (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text AS now_micros
             FROM pg_replication_slots s WHERE slot_name = $1`,
  /**
   * The slot's health for the periodic check. wal_status and safe_wal_size exist on 13+;
   * conflicting (16+) and invalidation_reason (17+) come through to_jsonb, NULL where the server
   * lacks them. The lag is measured against the replay position on a standby.
   */
  health: `SELECT active_pid, wal_status, safe_wal_size::text AS safe_wal_size,
                  to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason,
                  (to_jsonb(s) ->> 'conflicting')::boolean AS conflicting,
                  pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                                       ELSE pg_current_wal_lsn() END,
                                  confirmed_flush_lsn)::bigint::text AS lag
             FROM pg_replication_slots s WHERE slot_name = $1`,
  walsender: `SELECT application_name, client_addr::text AS client_addr, state,
                     flush_lsn::text AS flush_lsn,
                     extract(epoch FROM flush_lag)::float8 AS flush_lag_seconds
                FROM pg_stat_replication WHERE pid = $1`,
  slotUsage: `SELECT count(*)::int AS used, current_setting('max_replication_slots')::int AS max
                FROM pg_replication_slots`,
  senderUsage: `SELECT count(*)::int AS used, current_setting('max_wal_senders')::int AS max
                  FROM pg_stat_replication`,
  advance: `SELECT end_lsn::text AS lsn FROM pg_replication_slot_advance($1, $2::pg_lsn)`,
  drop: `SELECT pg_drop_replication_slot($1)`,
} as const;

/** A row of pg_replication_slots, the columns that say what the slot is and whether it streams. */
export interface SlotInfoRow {
  plugin: string | null;
  slot_type: string;
  database: string | null;
  active: boolean;
  active_pid: number | null;
  confirmed_flush_lsn: string | null;
  restart_lsn: string | null;
  /** 13+: 'lost' once the WAL the slot needs was removed (max_slot_wal_keep_size). */
  wal_status: string | null;
  /** 17+: wal_removed, rows_removed, wal_level_insufficient, idle_timeout (18); else null. */
  invalidation_reason: string | null;
  /** 16+: invalidated by a conflict with recovery (16: by anything); null before 16. */
  conflicting: boolean | null;
}

export async function readSlotInfo(db: Db, slot: string): Promise<SlotInfoRow | undefined> {
  const { rows } = await db.query<SlotInfoRow>(SLOT_SQL.info, [slot]);
  return rows[0];
}

export async function slotExists(db: Db, slot: string): Promise<boolean> {
  const { rows } = await db.query(SLOT_SQL.exists, [slot]);
  return rows.length > 0;
}

/**
 * Turns failover on for an existing slot (17+). Only the replication protocol can
 * (ALTER_REPLICATION_SLOT), and it waits for a walsender that holds the slot to let go: the
 * caller checks that none does, and a relay that takes the slot in between costs `timeoutMs`.
 */
export async function enableSlotFailover(
  pgUrl: string,
  slot: string,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await withReplicationClient(pgUrl, slot, (client) =>
    Promise.race([
      client.query(`ALTER_REPLICATION_SLOT ${quoteIdent(slot)} (FAILOVER true)`),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the slot stayed held for ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer)),
  );
}

/** The server's timeline (IDENTIFY_SYSTEM): above 1 after a promotion or a restore. */
export async function serverTimeline(pgUrl: string, slot: string): Promise<number> {
  const { rows } = await withReplicationClient(pgUrl, slot, (client) =>
    client.query<{ timeline: string | number }>('IDENTIFY_SYSTEM'),
  );
  return Number(rows[0]?.timeline ?? 1);
}

/** One replication command's connection: opened for `work`, ended after it, whatever happened. */
async function withReplicationClient<T>(
  pgUrl: string,
  slot: string,
  work: (client: ReplicationClient) => Promise<T>,
): Promise<T> {
  const client = new ReplicationClient(pgUrl, { slot });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PostgreSQL 17 is the first that can keep a logical slot on a standby (failover slots). */
export const FAILOVER_SLOTS_SINCE = 170000;

export async function serverVersionNum(db: Db): Promise<number> {
  const { rows } = await db.query<{ version: number }>(SQL.serverVersionNum);
  return Number(rows[0]?.version ?? 0);
}

/**
 * Creates the slot at the server's current position, on 17+ with failover = true, so that a
 * standby with sync_replication_slots keeps it and a failover loses nothing.
 */
export async function createSlot(db: Db, slot: string): Promise<Lsn> {
  const failover = (await serverVersionNum(db)) >= FAILOVER_SLOTS_SINCE;
  const { rows } = await db.query<{ lsn: string }>(
    failover ? SLOT_SQL.createFailover : SLOT_SQL.create,
    [slot],
  );
  return parseLsn(rows[0]?.lsn ?? '0/0');
}

/** pg_replication_slots.failover (17+), or null before 17, where slots never reach a standby. */
export async function slotFailover(db: Db, slot: string): Promise<boolean | null> {
  if ((await serverVersionNum(db)) < FAILOVER_SLOTS_SINCE) return null;
  const { rows } = await db.query<{ failover: boolean }>(SLOT_SQL.failover, [slot]);
  return rows[0]?.failover ?? null;
}

/** The process streaming from the slot now (its walsender), or null when none does. */
export async function slotActivePid(db: Db, slot: string): Promise<number | null> {
  const { rows } = await db.query<{ pid: number | null }>(SLOT_SQL.activePid, [slot]);
  return rows[0]?.pid ?? null;
}

/** The slot's walsender as pg_stat_replication shows it, and the slot's lag in bytes. */
export interface SlotHolderRow {
  pid: number | null;
  application_name: string | null;
  client_addr: string | null;
  since: Date | null;
  lag: string | null;
}

export async function readSlotHolder(db: Db, slot: string): Promise<SlotHolderRow | undefined> {
  const { rows } = await db.query<SlotHolderRow>(SLOT_SQL.holder, [slot]);
  return rows[0];
}

/** Whether the slot belongs to the connection's database, and its confirmed position. */
export async function readSlotConfirmed(
  db: Db,
  slot: string,
): Promise<{ here: boolean; lsn: string | null } | undefined> {
  const { rows } = await db.query<{ here: boolean; lsn: string | null }>(SLOT_SQL.confirmedHere, [
    slot,
  ]);
  return rows[0];
}

/** The slot's whole row (as JSON, whatever columns the server has) and the server's positions. */
export interface SlotStatusRow {
  slot: Record<string, unknown>;
  current_lsn: string;
  insert_lsn: string;
  now_micros: string;
}

export async function readSlotStatusRow(db: Db, slot: string): Promise<SlotStatusRow | undefined> {
  const { rows } = await db.query<SlotStatusRow>(SLOT_SQL.status, [slot]);
  return rows[0];
}

/** What the periodic slot check reads (see SLOT_SQL.health); bigints as text. */
export interface SlotHealthRow {
  active_pid: number | null;
  /** reserved, extended, unreserved or lost (13+). */
  wal_status: string | null;
  /** Bytes that can still be written before the slot is lost; null without max_slot_wal_keep_size. */
  safe_wal_size: string | null;
  invalidation_reason: string | null;
  conflicting: boolean | null;
  lag: string | null;
}

export async function readSlotHealth(
  db: Db | DbPool,
  slot: string,
): Promise<SlotHealthRow | undefined> {
  const { rows } = await db.query<SlotHealthRow>(SLOT_SQL.health, [slot]);
  return rows[0];
}

export interface WalsenderRow {
  application_name: string | null;
  client_addr: string | null;
  state: string | null;
  flush_lsn: string | null;
  flush_lag_seconds: number | null;
}

/** The pg_stat_replication row of walsender `pid`, if this role can see it. */
export async function readWalsenderRow(db: Db, pid: number): Promise<WalsenderRow | undefined> {
  const { rows } = await db.query<WalsenderRow>(SLOT_SQL.walsender, [pid]);
  return rows[0];
}

export interface Usage {
  used: number;
  max: number;
}

/** Slots in use against max_replication_slots. */
export async function slotUsage(db: Db): Promise<Usage> {
  return usageOf(db, SLOT_SQL.slotUsage);
}

/** Walsenders running against max_wal_senders. */
export async function walSenderUsage(db: Db): Promise<Usage> {
  return usageOf(db, SLOT_SQL.senderUsage);
}

async function usageOf(db: Db, sql: string): Promise<Usage> {
  const { rows } = await db.query<Usage>(sql);
  return rows[0] ?? { used: 0, max: 0 };
}

/** Moves the slot forward to `to` (pg_replication_slot_advance); returns where Postgres put it. */
export async function advanceSlotTo(db: Db, slot: string, to: Lsn): Promise<Lsn> {
  const { rows } = await db.query<{ lsn: string }>(SLOT_SQL.advance, [slot, formatLsn(to)]);
  return parseLsn(rows[0]?.lsn ?? '0/0');
}

export async function dropSlot(db: Db, slot: string): Promise<void> {
  await db.query(SLOT_SQL.drop, [slot]);
}
