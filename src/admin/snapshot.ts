/**
 * Rows that exist before the slot: creates the relay's slot together with an initial snapshot
 * of the outbox, so that the rows already in the table are published once, then streaming goes
 * on from exactly where the snapshot ends.
 *
 * 1. A temporary slot is created on a replication connection with an exported snapshot
 *    (src/db/snapshot.ts). The snapshot sees every transaction committed before the slot's
 *    consistent point and none after it.
 * 2. The rows that snapshot sees are read (one transaction that imports it) and published
 *    through replay() in commit order, each record marked `snapshot: true`, each produce
 *    request acknowledged by Kafka (acks=all) before the next.
 * 3. Only then is the relay's slot made, as a persistent copy of the temporary one
 *    (pg_copy_logical_replication_slot): its consistent point is the snapshot's, so it streams
 *    exactly the transactions that commit after the rows just published. Failover is turned on
 *    for it on PostgreSQL 17+, as for a slot that migrate or run creates.
 * 4. The replication connection ends, and the temporary slot with it.
 *
 * A crash anywhere before step 3 leaves no slot: the next migrate or run takes a new snapshot
 * and publishes every row again (duplicates, at most one snapshot's worth; never a loss). A crash
 * after step 3 leaves a slot that streams from the snapshot's end, as a clean run would.
 */
import type { Db } from '../db/client.ts';
import { connectReader, type OutboxTable } from '../db/outbox-reader.ts';
import { copySlot, exportSnapshot, snapshotSlotName } from '../db/snapshot.ts';
import { enableSlotFailover, FAILOVER_SLOTS_SINCE, serverVersionNum } from '../db/slots.ts';
import { errorMessage } from '../domain/errors.ts';
import type { Lsn } from '../domain/lsn.ts';
import type { EventEncoder } from '../encode/encoder.ts';
import type { KafkaSink } from '../publish/kafka.ts';
import type { Router } from '../route/router.ts';
import { replay, type ReplaySummary } from './replay.ts';

/** Marks a record published from the initial snapshot; the value is always "true". */
export const SNAPSHOT_HEADER = 'snapshot';

export interface SnapshotDeps {
  readonly pgUrl: string;
  /** An ordinary connection: the server's version, and the copy of the slot. */
  readonly db: Db;
  /** The slot to create; it must not exist. */
  readonly slot: string;
  readonly table: OutboxTable;
  /** A connected sink. */
  readonly sink: KafkaSink;
  readonly encoder: EventEncoder;
  readonly router: Router;
  readonly batchMaxEvents: number;
  readonly batchMaxBytes: number;
}

export interface SnapshotResult {
  /** Where the new slot starts: the snapshot's consistent point. */
  readonly consistentPoint: Lsn;
  readonly published: ReplaySummary;
  /** true or false on 17+ (false: it could not be turned on, see failoverError); null before. */
  readonly failover: boolean | null;
  readonly failoverError?: string;
}

/** Bound on ALTER_REPLICATION_SLOT (a relay could take the new slot at once). */
const ALTER_TIMEOUT_MS = 10_000;

export async function createSlotWithSnapshot(deps: SnapshotDeps): Promise<SnapshotResult> {
  const version = await serverVersionNum(deps.db);
  const temporary = snapshotSlotName(deps.slot, process.pid);
  const exported = await exportSnapshot(deps.pgUrl, temporary, version);
  try {
    const published = await publishSnapshot(deps, exported.name);
    await copySlot(deps.db, temporary, deps.slot);
    const failover =
      version >= FAILOVER_SLOTS_SINCE ? await turnOnFailover(deps) : { failover: null };
    return { consistentPoint: exported.consistentPoint, published, ...failover };
  } finally {
    await exported.close();
  }
}

async function publishSnapshot(deps: SnapshotDeps, snapshot: string): Promise<ReplaySummary> {
  const reader = await connectReader(deps.pgUrl, `outbox-relay:${deps.slot}:snapshot`);
  try {
    return await replay(
      { ...deps, db: reader },
      {
        selection: {},
        dryRun: false,
        snapshot,
        // The stream's order: each aggregate's snapshot rows in commit order, before its streamed ones.
        order: 'commit',
        marker: { [SNAPSHOT_HEADER]: 'true' },
      },
    );
  } finally {
    await reader.end().catch(() => undefined);
  }
}

async function turnOnFailover(
  deps: SnapshotDeps,
): Promise<{ failover: boolean; failoverError?: string }> {
  try {
    await enableSlotFailover(deps.pgUrl, deps.slot, ALTER_TIMEOUT_MS);
    return { failover: true };
  } catch (error) {
    return { failover: false, failoverError: errorMessage(error) };
  }
}
