/**
 * A real physical standby streaming from a primary the test started, set up for logical slot
 * synchronization (PostgreSQL 17+): the primary waits for the standby before logical walsenders
 * send (synchronized_standby_slots), and the standby copies the primary's failover slots
 * (sync_replication_slots). The machine has no pg_basebackup: the standby starts from a cold copy
 * of the briefly stopped primary, then streams from it.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { localPostgresControl } from '../../scripts/services/postgres.ts';
import { run } from '../../scripts/services/proc.ts';
import type { LocalPostgresState } from '../../scripts/services/types.ts';
import { coldCopy, sql, startCopyAsStandby, urlOf } from './promote.ts';

/** The primary's physical slot the standby streams from. */
export const STANDBY_SLOT = 'standby1';

/**
 * Makes `primary` (running) the source of a new streaming standby, and starts it. Commits made
 * with synchronous_commit = on wait for the standby (the harness's default is off), so a
 * transaction the writer saw commit survives the primary's crash.
 */
export async function startStreamingStandby(
  primary: LocalPostgresState,
): Promise<LocalPostgresState> {
  const url = urlOf(primary.port);
  await sql(url, 'SELECT pg_create_physical_replication_slot($1, true)', [STANDBY_SLOT]);
  await localPostgresControl(primary).stop();
  const dir = await coldCopy(primary);
  await localPostgresControl(primary).start();
  // set after the copy, so that the promoted standby does not wait for a standby of its own
  await sql(url, `ALTER SYSTEM SET synchronized_standby_slots = '${STANDBY_SLOT}'`);
  await sql(url, `ALTER SYSTEM SET synchronous_standby_names = '${STANDBY_SLOT}'`);
  await sql(url, 'SELECT pg_reload_conf()');
  // the copy's own copy of the physical slot would hold WAL back on the standby for nobody
  await rm(join(dir, 'data', 'pg_replslot', STANDBY_SLOT), { recursive: true, force: true });
  const conninfo = `host=127.0.0.1 port=${primary.port} user=postgres dbname=postgres application_name=${STANDBY_SLOT}`;
  return startCopyAsStandby(primary, dir, [
    `primary_conninfo = '${conninfo}'`,
    `primary_slot_name = '${STANDBY_SLOT}'`,
    'hot_standby_feedback = on',
    'sync_replication_slots = on',
  ]);
}

/** Waits until the standby holds a synchronized copy of the primary's logical slot `slot`. */
export async function waitForSyncedSlot(
  standby: LocalPostgresState,
  slot: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await sql<{ synced: boolean; temporary: boolean }>(
      urlOf(standby.port),
      'SELECT synced, temporary FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    if (rows[0]?.synced && !rows[0].temporary) return;
    if (Date.now() > deadline) {
      throw new Error(`the standby has not synchronized slot ${slot} in ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Stops the primary at once (a crash) and promotes the standby: a new timeline begins. */
export async function failOver(
  primary: LocalPostgresState,
  standby: LocalPostgresState,
): Promise<void> {
  await localPostgresControl(primary).stop({ force: true });
  await run([...standby.pgCtl, 'promote', '-w', '-t', '60']);
}
