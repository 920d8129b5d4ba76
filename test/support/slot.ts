/** What Postgres says about a slot: how far its confirmed position is behind the WAL. */
import type pg from 'pg';

export async function slotLagBytes(db: pg.Pool | pg.Client, slot: string): Promise<number> {
  const { rows } = await db.query<{ lag: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  if (!rows[0]) throw new Error(`no slot ${slot}`);
  return Number(rows[0].lag);
}

export async function confirmedFlush(db: pg.Pool | pg.Client, slot: string): Promise<string> {
  const { rows } = await db.query<{ lsn: string }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return rows[0]?.lsn ?? '0/0';
}

/** Peak resident set size of a process, from the kernel (VmHWM), in MiB. */
export async function peakRssMib(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  if (!kib) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(kib) / 1024;
}
