/**
 * Jars from Maven Central in a folder under .cache/: a pom.xml that is only a dependency list,
 * copied with `mvn dependency:copy-dependencies` once, and again when that pom changes. The Kafka
 * broker's jars and Apache Avro's Java library (the tests' reference decoder) come this way.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { say, since } from './log.ts';
import { run } from './proc.ts';

export interface MavenLibsRequest {
  /** The dependency-list pom. */
  readonly pom: string;
  /** Where the jars go: `<cacheDir>/libs`, with `<cacheDir>/complete.json` once they are all there. */
  readonly cacheDir: string;
  /** What the jars are, for progress lines and errors ("Kafka's jars"). */
  readonly what: string;
  /** Another way out, added to the error when Maven is missing. */
  readonly otherwise?: string;
}

/** Written last, so a fetch cut short is never taken for a complete cache. */
interface CacheMarker {
  pomSha256: string;
  jars: number;
}

/** The jars' folder, fetched first if the cache is missing, incomplete or from another pom. */
export async function ensureMavenLibs(request: MavenLibsRequest): Promise<string> {
  const pomSha256 = createHash('sha256')
    .update(await readFile(request.pom))
    .digest('hex');
  if (!(await isComplete(request.cacheDir, pomSha256))) await fetchLibs(request, pomSha256);
  return join(request.cacheDir, 'libs');
}

/** The value of `<name>` in the pom's properties; throws when there is none. */
export function pomProperty(pom: string, pomPath: string, name: string): string {
  const value = new RegExp(`<${name.replaceAll('.', '\\.')}>([^<]+)</`).exec(pom)?.[1];
  if (!value) throw new Error(`${pomPath} has no <${name}> property`);
  return value;
}

async function isComplete(cacheDir: string, pomSha256: string): Promise<boolean> {
  const text = await readFile(join(cacheDir, 'complete.json'), 'utf8').catch(() => null);
  if (text === null) return false;
  const marker = JSON.parse(text) as CacheMarker;
  const jars = await readdir(join(cacheDir, 'libs')).catch(() => []);
  return marker.pomSha256 === pomSha256 && jars.length === marker.jars;
}

/**
 * Fetches into a private dir and renames it into place, so two processes that fetch at once
 * (test files run standalone in parallel) cannot leave a mixed directory behind.
 */
async function fetchLibs(request: MavenLibsRequest, pomSha256: string): Promise<void> {
  await requireMaven(request);
  const { cacheDir } = request;
  const libsDir = join(cacheDir, 'libs');
  const t0 = performance.now();
  say(`fetching ${request.what} with Maven into ${libsDir} (once)`);
  const partial = `${libsDir}.partial-${process.pid}`;
  await mkdir(cacheDir, { recursive: true });
  try {
    const output = `-DoutputDirectory=${partial}`;
    await run(['mvn', '-q', '-B', '-f', request.pom, 'dependency:copy-dependencies', output]);
    const jars = (await readdir(partial)).filter((name) => name.endsWith('.jar')).length;
    await rm(join(cacheDir, 'complete.json'), { force: true });
    await rm(libsDir, { recursive: true, force: true });
    await rename(partial, libsDir);
    await writeFile(join(cacheDir, 'complete.json'), JSON.stringify({ pomSha256, jars }) + '\n');
    say(`fetched ${jars} jars in ${since(t0)}`);
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/** Throws an error that says how to install Maven, naming what it was needed for. */
export async function requireMaven(
  request: Pick<MavenLibsRequest, 'what' | 'otherwise'>,
): Promise<void> {
  await run(['mvn', '-v']).catch((err: Error) => {
    const otherwise = request.otherwise ? ` or ${request.otherwise}` : '';
    throw new Error(
      `Maven (mvn) is needed once, to fetch ${request.what} into .cache/: install maven ` +
        `(apt-get install maven)${otherwise}`,
      { cause: err },
    );
  });
}
