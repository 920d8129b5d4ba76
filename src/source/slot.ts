/**
 * Checks and prepares what streaming needs, on an ordinary connection, with messages that say
 * what to do: wal_level, the publication on the outbox table, and the slot.
 */
import type pg from 'pg';
import { RelayError } from '../domain/errors.ts';
import { parseLsn, type Lsn } from '../domain/lsn.ts';
import { SQL } from '../db/sql.ts';

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

export async function checkWalLevel(db: pg.ClientBase): Promise<void> {
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

export async function checkPublication(db: pg.ClientBase, target: SlotTarget): Promise<void> {
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

/** Creates the slot when missing (if allowed); a slot of another plugin is an error. */
export async function ensureSlot(
  db: pg.ClientBase,
  slot: string,
  create: boolean,
): Promise<SlotState> {
  const { rows } = await db.query<{
    plugin: string;
    slot_type: string;
    confirmed_flush_lsn: string | null;
  }>(SQL.slotInfo, [slot]);
  const existing = rows[0];
  if (existing) {
    if (existing.slot_type !== 'logical' || existing.plugin !== 'pgoutput') {
      throw new RelayError(
        'PG_SLOT',
        `slot "${slot}" exists but uses ${existing.slot_type}/${existing.plugin}, not logical/pgoutput`,
        {
          hint: 'Set RELAY_SLOT to a new name, or drop that slot if nothing else uses it.',
        },
      );
    }
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
  const created = await db.query<{ lsn: string }>(SQL.createSlot, [slot]);
  return { created: true, confirmedFlushLsn: parseLsn(created.rows[0]?.lsn ?? '0/0') };
}
