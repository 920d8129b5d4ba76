/**
 * Checks and prepares what streaming needs, on an ordinary connection, with messages that say
 * what to do: wal_level, the publication on the outbox table, and the slot.
 */
import type { SlotHolder } from '../ops/health.ts';
import type { Db } from '../db/client.ts';
import { createSlot, readSlotHolder, readSlotInfo } from '../db/slots.ts';
import { errorMessage, RelayError } from '../domain/errors.ts';
import { formatLsn, parseLsn, type Lsn } from '../domain/lsn.ts';
import { quoteIdent, SQL } from '../db/sql.ts';
import {
  missingColumns,
  missingColumnsError,
  type OutboxMapping,
} from '../config/outbox-mapping.ts';

export interface SlotTarget {
  slot: string;
  publication: string;
  schema: string;
  table: string;
}

export interface SlotState {
  created: boolean;
  confirmedFlushLsn: Lsn | null;
}

export async function checkWalLevel(db: Db): Promise<void> {
  const { rows } = await db.query<{ wal_level: string }>(SQL.walLevel);
  if (rows[0]?.wal_level !== 'logical') {
    throw new RelayError(
      'PG_SLOT',
      `wal_level is "${rows[0]?.wal_level}", logical replication needs "logical"`,
      {
        hint: 'Set wal_level = logical in postgresql.conf (or -c wal_level=logical) and restart PostgreSQL.',
      },
    );
  }
}

export async function checkPublication(db: Db, target: SlotTarget): Promise<void> {
  const { rows } = await db.query<{ pubinsert: boolean }>(SQL.publicationExists, [
    target.publication,
  ]);
  if (rows.length === 0) {
    throw new RelayError('PG_PUBLICATION', `publication "${target.publication}" does not exist`, {
      hint: 'Run "outbox-relay migrate" with the same RELAY_PUBLICATION, or set RELAY_PUBLICATION to yours.',
    });
  }
  const tables = await db.query<{ schemaname: string; tablename: string }>(SQL.publicationTables, [
    target.publication,
  ]);
  const found = tables.rows.some(
    (r) => r.schemaname === target.schema && r.tablename === target.table,
  );
  if (!found) {
    throw new RelayError(
      'PG_PUBLICATION',
      `publication "${target.publication}" does not include ${target.schema}.${target.table}`,
      { hint: 'Check RELAY_OUTBOX_SCHEMA / RELAY_OUTBOX_TABLE, or run "outbox-relay migrate".' },
    );
  }
}

/**
 * The outbox table's OID, or null when no table has its configured name. The session follows
 * the outbox by it, as the publication does, so a renamed outbox keeps being relayed.
 */
export async function outboxOid(db: Db, target: SlotTarget): Promise<number | null> {
  const name = `${quoteIdent(target.schema)}.${quoteIdent(target.table)}`;
  const { rows } = await db.query<{ oid: string | null }>(SQL.tableOid, [name]);
  const oid = rows[0]?.oid;
  return oid ? Number(oid) : null;
}

/**
 * Stops the start (exit 2) when the outbox table lacks a column the mapping reads, naming the
 * setting and column: better than dead-lettering every row. No table: nothing to check here.
 */
export async function checkOutboxColumns(
  db: Db,
  target: SlotTarget,
  mapping: OutboxMapping,
): Promise<void> {
  const name = `${quoteIdent(target.schema)}.${quoteIdent(target.table)}`;
  const { rows } = await db.query<{ attname: string }>(SQL.tableColumns, [name]);
  if (rows.length === 0) return;
  const missing = missingColumns(mapping, new Set(rows.map((r) => r.attname)));
  if (missing.length > 0) throw missingColumnsError(`${target.schema}.${target.table}`, missing);
}

/** The columns of pg_replication_slots that say whether a slot can still stream. */
export interface SlotValidity {
  /** 17+: wal_removed, rows_removed, wal_level_insufficient, idle_timeout (18); else null. */
  invalidation_reason?: string | null;
  /** 16+: invalidated by a conflict with recovery (16: by anything); null before 16. */
  conflicting?: boolean | null;
  /** 13+: 'lost' once the WAL the slot needs was removed (max_slot_wal_keep_size). */
  wal_status?: string | null;
}

/**
 * Why PostgreSQL invalidated the slot, or null while it can stream. An invalidated slot never
 * streams again (PostgreSQL refuses it on every try), so retrying is pointless.
 */
export function slotInvalidation(row: SlotValidity): string | null {
  if (row.invalidation_reason) return row.invalidation_reason;
  // Before wal_status: PostgreSQL 16 sets conflicting for every invalidation, WAL removal too.
  if (row.wal_status === 'lost') return 'wal_removed';
  if (row.conflicting === true) return 'conflict with recovery';
  return null;
}

const INVALIDATION_CAUSES: Readonly<Record<string, string>> = {
  wal_removed: 'PostgreSQL removed WAL it still needed (max_slot_wal_keep_size)',
  idle_timeout: 'it stayed unused longer than idle_replication_slot_timeout',
  rows_removed: 'catalog rows it needed were removed (a conflict with recovery)',
  wal_level_insufficient: 'wal_level on the primary went below logical',
};

/** Not retriable: the relay and migrate stop, and say how to recover. */
export function invalidatedSlotError(slot: string, reason: string, cause?: unknown): RelayError {
  const why = INVALIDATION_CAUSES[reason];
  return new RelayError(
    'PG_SLOT_INVALIDATED',
    `replication slot "${slot}" was invalidated by PostgreSQL (${why ? `${reason}: ${why}` : reason}) and can never stream again`,
    {
      cause,
      hint:
        `With no relay running, drop and recreate the slot: "outbox-relay offsets reset --recreate --yes" ` +
        `(or SELECT pg_drop_replication_slot('${slot}'); then "outbox-relay migrate"); then send the ` +
        'events written since the relay last confirmed with "outbox-relay replay --from <time>" ' +
        '(consumers deduplicate on event_id), and start the relay.',
    },
  );
}

/**
 * Creates the slot when missing (if allowed), with `createMissing` when given (an initial
 * snapshot, src/admin/snapshot.ts), else at the current position; a slot of another plugin, or
 * one PostgreSQL invalidated, is an error.
 */
export async function ensureSlot(
  db: Db,
  slot: string,
  create: boolean,
  beforeCreate?: () => Promise<void>,
  createMissing: () => Promise<Lsn> = () => createSlot(db, slot),
): Promise<SlotState> {
  const existing = await readSlotInfo(db, slot);
  if (existing) {
    if (existing.slot_type !== 'logical' || existing.plugin !== 'pgoutput') {
      throw new RelayError(
        'PG_SLOT',
        `slot "${slot}" exists but uses ${existing.slot_type}/${existing.plugin ?? 'null'}, not logical/pgoutput`,
        {
          hint: 'Set RELAY_SLOT to a new name, or drop that slot if nothing else uses it.',
        },
      );
    }
    const invalidation = slotInvalidation(existing);
    if (invalidation !== null) throw invalidatedSlotError(slot, invalidation);
    const lsn = existing.confirmed_flush_lsn;
    return { created: false, confirmedFlushLsn: lsn ? parseLsn(lsn) : null };
  }
  if (!create) {
    throw new RelayError('PG_SLOT', `replication slot "${slot}" does not exist`, {
      hint:
        'Run "outbox-relay migrate", or set RELAY_CREATE_SLOT=true. If it existed before, it was ' +
        'dropped: events written since then are not in it; send them with "outbox-relay replay --from <time>".',
    });
  }
  await beforeCreate?.();
  return { created: true, confirmedFlushLsn: await createMissing() };
}

/** What says whether a relay streamed from this database before its slot went missing. */
export interface SlotHistory {
  /** The server's timeline (IDENTIFY_SYSTEM): above 1 after a promotion or a restore. */
  readonly timeline: number;
  /** The key of a durable position or checkpoint Kafka holds for this database and slot. */
  readonly kafkaKey: string | null;
  readonly topic: string;
}

/**
 * Why a missing slot must not be created at the current WAL position, or null on a fresh
 * database. A new slot starts now: after a failover (the old primary's slot did not come to
 * the standby) every event between the old slot's position and now would be skipped silently.
 */
export function slotHistoryReason(history: SlotHistory): string | null {
  const reasons: string[] = [];
  if (history.timeline > 1)
    reasons.push(
      `the server is on timeline ${history.timeline}: it was promoted from a standby (a failover) or restored from a backup`,
    );
  if (history.kafkaKey !== null)
    reasons.push(
      `Kafka holds the relay's position for this database and slot (key "${history.kafkaKey}" in topic "${history.topic}")`,
    );
  return reasons.length === 0 ? null : reasons.join('; ');
}

/** Not retriable: only the operator can say from when the events must be sent again. */
export function lostSlotError(slot: string, reason: string): RelayError {
  return new RelayError(
    'PG_SLOT',
    `replication slot "${slot}" does not exist, and the relay streamed from this database before (${reason}); ` +
      "creating it now would start at the server's current WAL position and silently skip every event " +
      "written between the old slot's position and now (after a failover the old primary's slot is not on the standby), so the relay did not create it",
    {
      hint:
        'With no relay running, create the slot: "outbox-relay offsets reset --recreate --yes"; then send the events ' +
        'the old slot had not confirmed: "outbox-relay replay --from <a time before the failover>" (consumers ' +
        'deduplicate on event_id); then start the relay. If no relay ever streamed from this database, the ' +
        'first command alone is enough. On PostgreSQL 17+, failover slots keep the slot on the standby (README, "Failover").',
    },
  );
}

/**
 * The stream said the publication does not exist. If it exists now, it was dropped and created
 * again after the slot's position: pgoutput reads the publication as of that position (the
 * historic catalog), so this slot will never see it, and `migrate` or a restart cannot help.
 * Returns the error that says so and how to recover, or the original error otherwise.
 */
export async function explainMissingPublication(
  db: Db,
  error: unknown,
  target: SlotTarget,
): Promise<unknown> {
  const message = errorMessage(error);
  if (!(error instanceof RelayError) || !message.includes(`publication "${target.publication}"`))
    return error;
  const { rows } = await db.query(SQL.publicationExists, [target.publication]);
  if (rows.length === 0) return error;
  const slot = await ensureSlot(db, target.slot, false);
  const position =
    slot.confirmedFlushLsn === null ? 'its position' : formatLsn(slot.confirmedFlushLsn);
  return new RelayError(
    'PG_PUBLICATION',
    `publication "${target.publication}" exists, but slot "${target.slot}" is at ${position}, ` +
      'before it was created again: logical decoding reads a publication as it was at the ' +
      "slot's position, so this slot cannot stream it (migrate and restarts cannot help)",
    {
      cause: error,
      hint:
        'With no relay running, move the slot past the re-creation: "outbox-relay offsets reset ' +
        '--to-now --yes"; then send the events written since the publication was dropped with ' +
        '"outbox-relay replay --from <a time before the drop>" (consumers deduplicate on ' +
        'event_id), and start the relay again.',
    },
  );
}

/** Who streams from the slot: its walsender's pid, client and start, and the slot's lag. */
export async function slotHolder(db: Db, slot: string): Promise<SlotHolder | null> {
  const row = await readSlotHolder(db, slot);
  if (!row) return null;
  return {
    pid: row.pid,
    applicationName: row.application_name,
    clientAddr: row.client_addr,
    since: row.since ? row.since.toISOString() : null,
    lagBytes: row.lag === null ? null : Number(row.lag),
  };
}
