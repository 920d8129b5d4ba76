import {
  access,
  appendFile,
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { say, since } from './log.ts';
import { freePort } from './net.ts';
import { pgBinDir } from './pg-binaries.ts';
import { isAlive, run, terminate } from './proc.ts';
import { LOCAL_NAMES, makeCa, makeCertificate } from './tls.ts';
import type { LocalPostgresState, PostgresTlsInfo, ServiceControl, StopOptions } from './types.ts';

const PG_ROOT = '/usr/lib/postgresql';
const SERVER_USER = 'postgres';

/**
 * Settings the relay's tests need (logical decoding, many slots for slot-per-test, commit
 * timestamps for replay in commit order) plus a few
 * that trade durability for speed, which a throwaway cluster does not need.
 */
function serverSettings(state: LocalPostgresState): string {
  return [
    '',
    '# outbox-relay test harness',
    `port = ${state.port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${state.dir}'`,
    'wal_level = logical',
    'max_replication_slots = 64',
    'max_wal_senders = 64',
    'track_commit_timestamp = on',
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    // TLS for the sslmode=verify-full tests; plain connections stay allowed (pg_hba "host").
    ...(state.tls
      ? [
          'ssl = on',
          `ssl_cert_file = '${state.dir}/tls/server.crt'`,
          `ssl_key_file = '${state.dir}/tls/server.key'`,
        ]
      : []),
    '',
  ].join('\n');
}

export interface LocalPostgresOptions {
  /**
   * The major version to run (its binaries fetched once if the machine lacks them); default:
   * RELAY_TEST_PG_VERSION, else RELAY_TEST_PG_BIN, else the newest Debian install.
   */
  major?: number;
}

/** initdb + pg_ctl start of a fresh cluster in a new temp dir; about a second. */
export async function startLocalPostgres(
  opts: LocalPostgresOptions = {},
): Promise<LocalPostgresState> {
  const t0 = performance.now();
  const binDir = await findBinDir(opts.major ?? majorFromEnv());
  const owner = await serverOwner();
  const runAs = owner?.prefix ?? [];
  const dir = await mkdtemp(join(tmpdir(), 'outbox-relay-pg-'));
  const state = initialState(dir, binDir, runAs, await freePort());
  try {
    if (owner) await chown(dir, owner.uid, owner.gid);
    state.tls = await makeServerTls(dir, owner);
    await initCluster(state, binDir, runAs);
    await pgCtl(state, ['start', '-w', '-t', '60', '-l', state.logFile]);
    say(`postgres ${state.version} ready on 127.0.0.1:${state.port} in ${since(t0)} (${dir})`);
    return state;
  } catch (err) {
    await removeLocalPostgres(state).catch(() => undefined);
    throw err;
  }
}

function initialState(
  dir: string,
  binDir: string,
  runAs: string[],
  port: number,
): LocalPostgresState {
  const dataDir = join(dir, 'data');
  const pgCtlArgv = [...runAs, join(binDir, 'pg_ctl'), '-D', dataDir];
  return {
    type: 'local',
    version: '',
    port,
    dir,
    dataDir,
    logFile: join(dir, 'postgres.log'),
    pgCtl: pgCtlArgv,
  };
}

async function initCluster(state: LocalPostgresState, binDir: string, runAs: string[]) {
  const initdb = join(binDir, 'initdb');
  const args = ['-D', state.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C'];
  await run([...runAs, initdb, ...args, '--no-sync']);
  await appendFile(join(state.dataDir, 'postgresql.conf'), serverSettings(state));
  state.version = (await readFile(join(state.dataDir, 'PG_VERSION'), 'utf8')).trim();
}

/**
 * A CA and a server certificate for localhost and 127.0.0.1. PostgreSQL refuses a key that
 * others can read, and reads it as the server's user.
 */
async function makeServerTls(dir: string, owner: ServerOwner | null): Promise<PostgresTlsInfo> {
  const tlsDir = join(dir, 'tls');
  await mkdir(tlsDir);
  const ca = await makeCa(tlsDir, 'ca');
  const server = await makeCertificate(tlsDir, 'server', ca, { altNames: LOCAL_NAMES });
  await chmod(server.keyFile, 0o600);
  if (owner) {
    for (const path of [tlsDir, server.certFile, server.keyFile])
      await chown(path, owner.uid, owner.gid);
  }
  return { caFile: ca.certFile };
}

/** RELAY_TEST_PG_VERSION: the major version the harness's cluster runs (14 to 18). */
function majorFromEnv(): number | undefined {
  const text = process.env.RELAY_TEST_PG_VERSION?.trim();
  if (!text) return undefined;
  if (!/^\d+$/.test(text)) {
    throw new Error(`RELAY_TEST_PG_VERSION=${text}: give a major version, such as 17`);
  }
  return Number(text);
}

/**
 * The given major's binaries (Debian's, or fetched: see pg-binaries.ts); without one,
 * RELAY_TEST_PG_BIN, else the newest /usr/lib/postgresql/<major>/bin (Debian's layout).
 */
async function findBinDir(major: number | undefined): Promise<string> {
  if (major !== undefined) return pgBinDir(major);
  const override = process.env.RELAY_TEST_PG_BIN;
  if (override) return override;
  const majors = (await readdir(PG_ROOT).catch(() => [] as string[]))
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = join(PG_ROOT, major, 'bin');
    if (await exists(join(bin, 'initdb'))) return bin;
  }
  throw new Error(
    `no PostgreSQL server binaries in ${PG_ROOT}/*/bin: install postgresql (Debian), ` +
      'point RELAY_TEST_PG_BIN at a bin dir with initdb and pg_ctl, or set RELAY_TEST_PG_URL',
  );
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

interface ServerOwner {
  uid: number;
  gid: number;
  prefix: string[];
}

/** PostgreSQL refuses to run as root, so root runs it as the `postgres` user instead. */
async function serverOwner(): Promise<ServerOwner | null> {
  if (process.getuid?.() !== 0) return null;
  const ids = await Promise.all([run(['id', '-u', SERVER_USER]), run(['id', '-g', SERVER_USER])])
    .then(([uid, gid]) => ({ uid: Number(uid.stdout), gid: Number(gid.stdout) }))
    .catch(() => {
      throw new Error(
        `PostgreSQL will not run as root and there is no '${SERVER_USER}' user to run it as: ` +
          `create one (useradd --system ${SERVER_USER}) or run the tests as another user`,
      );
    });
  return { ...ids, prefix: ['runuser', '-u', SERVER_USER, '--'] };
}

function pgCtl(state: LocalPostgresState, args: string[]) {
  return run([...state.pgCtl, ...args]).catch((err: Error) => {
    throw new Error(`${err.message}\n(postgres log: ${state.logFile})`, { cause: err });
  });
}

async function isRunning(state: LocalPostgresState): Promise<boolean> {
  return run([...state.pgCtl, 'status']).then(
    () => true,
    () => false,
  );
}

function stopArgs(opts: StopOptions = {}): string[] {
  return ['-m', opts.force ? 'immediate' : 'fast', '-w', '-t', '60'];
}

/** Works from any process that can read the state: pg_ctl finds the server by its data dir. */
export function localPostgresControl(state: LocalPostgresState): ServiceControl {
  return {
    stop: async (opts) => {
      if (await isRunning(state)) await pgCtl(state, ['stop', ...stopArgs(opts)]);
    },
    start: async () => {
      if (!(await isRunning(state)))
        await pgCtl(state, ['start', '-w', '-t', '60', '-l', state.logFile]);
    },
    restart: async (opts) => {
      await pgCtl(state, ['restart', ...stopArgs(opts), '-l', state.logFile]);
    },
  };
}

/** Immediate shutdown, then the temp dir. Falls back to SIGKILL of the postmaster pid. */
export async function removeLocalPostgres(state: LocalPostgresState): Promise<void> {
  if (await isRunning(state)) {
    await pgCtl(state, ['stop', '-m', 'immediate', '-w', '-t', '20']).catch(() =>
      killPostmaster(state),
    );
  }
  await rm(state.dir, { recursive: true, force: true });
}

async function killPostmaster(state: LocalPostgresState): Promise<void> {
  const pidFile = await readFile(join(state.dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number(pidFile.split('\n')[0]);
  if (pid > 0 && (await isAlive(pid))) await terminate(pid, 0);
}
