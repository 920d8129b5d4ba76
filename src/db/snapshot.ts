/**
 * The replication commands behind an initial snapshot (see src/admin/snapshot.ts): a temporary
 * logical slot that exports a snapshot, and the copy of it that becomes the relay's slot.
 *
 * Invariant: the exported snapshot sees exactly the transactions that committed before the
 * temporary slot's consistent point, and a copy of the slot streams exactly those that commit
 * after it. The snapshot lives only while the replication connection that exported it runs no
 * other command, so nothing else is ever sent on it; the temporary slot goes with it.
 */
import { parseLsn, type Lsn } from '../domain/lsn.ts';
import type { Db } from './client.ts';
import { ReplicationClient } from './replication-client.ts';
import { quoteIdent } from './sql.ts';

/** PostgreSQL 15 took the option-list syntax of CREATE_REPLICATION_SLOT; 14 knows only keywords. */
const OPTION_LIST_SINCE = 150000;

export interface ExportedSnapshot {
  /** The name SET TRANSACTION SNAPSHOT takes. */
  readonly name: string;
  /** Where the temporary slot, and any copy of it, starts streaming. */
  readonly consistentPoint: Lsn;
  /** Ends the replication connection: the snapshot and the temporary slot go with it. */
  close(): Promise<void>;
}

export function createSlotCommand(slot: string, serverVersion: number): string {
  const head = `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} TEMPORARY LOGICAL pgoutput`;
  return serverVersion >= OPTION_LIST_SINCE
    ? `${head} (SNAPSHOT 'export')`
    : `${head} EXPORT_SNAPSHOT`;
}

/** Creates the temporary slot `tempSlot` with an exported snapshot, on a connection of its own. */
export async function exportSnapshot(
  pgUrl: string,
  tempSlot: string,
  serverVersion: number,
): Promise<ExportedSnapshot> {
  const client = new ReplicationClient(pgUrl, { slot: tempSlot });
  client.on('error', () => undefined); // a lost connection fails the snapshot's reads or copy
  await client.connect();
  try {
    const { rows } = await client.query<{ snapshot_name: string; consistent_point: string }>(
      createSlotCommand(tempSlot, serverVersion),
    );
    const row = rows[0];
    if (!row?.snapshot_name)
      throw new Error(`${tempSlot}: CREATE_REPLICATION_SLOT exported no snapshot`);
    return {
      name: row.snapshot_name,
      consistentPoint: parseLsn(row.consistent_point),
      close: () => client.end().catch(() => undefined),
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/** A persistent copy of `from` named `to`: the same consistent point, so the same first event. */
export async function copySlot(db: Db, from: string, to: string): Promise<Lsn> {
  const { rows } = await db.query<{ lsn: string }>(
    'SELECT lsn::text AS lsn FROM pg_copy_logical_replication_slot($1, $2, false)',
    [from, to],
  );
  return parseLsn(rows[0]?.lsn ?? '0/0');
}

/** The temporary slot's name: unique per process, within the 63 bytes a slot name may have. */
export function snapshotSlotName(slot: string, pid: number): string {
  const suffix = `_snap_${pid}`;
  return `${slot.slice(0, 63 - suffix.length)}${suffix}`;
}
