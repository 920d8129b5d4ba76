/** A promoted standby made from a cold copy of a stopped cluster, and SQL on clusters a test starts. */
import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localPostgresControl } from '../../scripts/services/postgres.ts';
import { freePort } from '../../scripts/services/net.ts';
import { run } from '../../scripts/services/proc.ts';
import type { LocalPostgresState } from '../../scripts/services/types.ts';
import pg from 'pg';

/** The superuser URL of a local cluster's `postgres` database. */
export const urlOf = (port: number) => `postgres://postgres@127.0.0.1:${port}/postgres`;

/** One statement on its own connection, for clusters a test starts itself. */
export async function sql<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query<T>(text, values)).rows;
  } finally {
    await db.end();
  }
}
/** A cold copy of a stopped cluster's directory (data, TLS files), owned as the original. */
export async function coldCopy(primary: LocalPostgresState): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'outbox-relay-pg-copy-'));
  const dir = join(parent, 'pg');
  await run(['cp', '-a', primary.dir, dir]);
  await run(['chown', '--reference', primary.dir, parent]); // the server's user must reach it
  return dir;
}

/**
 * Makes a cold copy a standby on its own port (`extra` lines added to its postgresql.conf) and
 * starts it.
 */
export async function startCopyAsStandby(
  primary: LocalPostgresState,
  dir: string,
  extra: readonly string[] = [],
): Promise<LocalPostgresState> {
  const dataDir = join(dir, 'data');
  const port = await freePort();
  await appendFile(
    join(dataDir, 'postgresql.conf'),
    [
      '',
      '# the copy',
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      `ssl_cert_file = '${dir}/tls/server.crt'`,
      `ssl_key_file = '${dir}/tls/server.key'`,
      ...extra,
      '',
    ].join('\n'),
  );
  await writeFile(join(dataDir, 'standby.signal'), '');
  await run([
    'chown',
    '--reference',
    join(primary.dataDir, 'postgresql.conf'),
    join(dataDir, 'standby.signal'),
  ]);
  const at = primary.pgCtl.indexOf('-D');
  const copy: LocalPostgresState = {
    ...primary,
    port,
    dir,
    dataDir,
    logFile: join(dir, 'postgres.log'),
    pgCtl: [...primary.pgCtl.slice(0, at), '-D', dataDir],
  };
  await localPostgresControl(copy).start();
  return copy;
}

/**
 * Starts a cold copy as a standby with no primary to follow (it replays only the WAL it holds),
 * then promotes it: a new timeline begins where its WAL ended.
 */
export async function promote(
  primary: LocalPostgresState,
  dir: string,
): Promise<LocalPostgresState> {
  const copy = await startCopyAsStandby(primary, dir);
  await run([...copy.pgCtl, 'promote', '-w', '-t', '60']);
  return copy;
}
