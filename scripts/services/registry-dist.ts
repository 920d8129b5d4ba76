/**
 * Apicurio Registry's runnable distribution from Maven Central, in .cache/apicurio-registry-<v>/:
 * the `all` tar.gz of io.apicurio:apicurio-registry-app (a Quarkus legacy-jar layout: a runner
 * jar whose manifest names ~360 jars in lib/), copied with `mvn dependency:copy` once and
 * unpacked with tar. GNU tar, not dependency:unpack: Maven's unarchiver turns the tarball's pax
 * headers into a stray PaxHeaders.X folder.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './kafka-libs.ts';
import { requireMaven } from './maven-libs.ts';
import { say, since } from './log.ts';
import { run } from './proc.ts';

/**
 * 3.0.9 is the newest 3.0.x on Maven Central; its classes target Java 11 and it runs on 17.
 * Apicurio 3.x stores everything in an in-memory H2 database unless told otherwise.
 */
export const REGISTRY_VERSION = '3.0.9';
const ARTIFACT = `io.apicurio:apicurio-registry-app:${REGISTRY_VERSION}:tar.gz:all`;
const RUNNER_JAR = `apicurio-registry-app-${REGISTRY_VERSION}-runner.jar`;
const OTHERWISE = 'set RELAY_TEST_REGISTRY_URL to use a running registry';

export interface RegistryDist {
  version: string;
  /** The unpacked distribution: the runner jar, lib/ and meta/. */
  appDir: string;
  /** What `java -jar` runs; it finds lib/ through its manifest's Class-Path. */
  runnerJar: string;
}

/** Written last, so a fetch cut short is never taken for a complete cache. */
interface CacheMarker {
  artifact: string;
  jars: number;
}

/** The unpacked distribution, fetched first if the cache is missing or incomplete. */
export async function ensureRegistryDist(): Promise<RegistryDist> {
  const cacheDir = join(REPO_ROOT, '.cache', `apicurio-registry-${REGISTRY_VERSION}`);
  const appDir = join(cacheDir, 'app');
  if (!(await isComplete(cacheDir))) await fetchDist(cacheDir);
  return { version: REGISTRY_VERSION, appDir, runnerJar: join(appDir, RUNNER_JAR) };
}

async function isComplete(cacheDir: string): Promise<boolean> {
  const text = await readFile(join(cacheDir, 'complete.json'), 'utf8').catch(() => null);
  if (text === null) return false;
  const marker = JSON.parse(text) as CacheMarker;
  const jars = await countJars(join(cacheDir, 'app'));
  return marker.artifact === ARTIFACT && jars === marker.jars;
}

/** The runner jar and the jars of lib/; -1 when the runner is missing. */
async function countJars(appDir: string): Promise<number> {
  const runner = await stat(join(appDir, RUNNER_JAR)).catch(() => null);
  if (!runner?.isFile()) return -1;
  const libs = await readdir(join(appDir, 'lib')).catch(() => [] as string[]);
  return 1 + libs.filter((name) => name.endsWith('.jar')).length;
}

/**
 * Fetches and unpacks into a private dir and renames it into place, so two processes that fetch
 * at once cannot leave a mixed directory behind.
 */
async function fetchDist(cacheDir: string): Promise<void> {
  await requireMaven({ what: `Apicurio Registry ${REGISTRY_VERSION}`, otherwise: OTHERWISE });
  const appDir = join(cacheDir, 'app');
  const partial = join(cacheDir, `partial-${process.pid}`);
  const t0 = performance.now();
  say(`fetching Apicurio Registry ${REGISTRY_VERSION} with Maven into ${appDir} (once)`);
  await mkdir(join(partial, 'app'), { recursive: true });
  try {
    const output = `-DoutputDirectory=${partial}`;
    const copy = ['mvn', '-q', '-B', 'dependency:copy', `-Dartifact=${ARTIFACT}`, output];
    await run(copy, { cwd: partial });
    const tarball = (await readdir(partial)).find((name) => name.endsWith('.tar.gz'));
    if (!tarball) throw new Error(`mvn dependency:copy left no tar.gz of ${ARTIFACT}`);
    await run(['tar', '-xzf', join(partial, tarball), '-C', join(partial, 'app')]);
    const jars = await countJars(join(partial, 'app'));
    if (jars < 0) throw new Error(`${ARTIFACT} holds no ${RUNNER_JAR}`);
    await rm(join(cacheDir, 'complete.json'), { force: true });
    await rm(appDir, { recursive: true, force: true });
    await rename(join(partial, 'app'), appDir);
    const marker: CacheMarker = { artifact: ARTIFACT, jars };
    await writeFile(join(cacheDir, 'complete.json'), JSON.stringify(marker) + '\n');
    say(`fetched Apicurio Registry (${jars} jars) in ${since(t0)}`);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}
