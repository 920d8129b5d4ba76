import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { say, since } from './log.ts';
import { run } from './proc.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POM = join(REPO_ROOT, 'scripts/kafka/pom.xml');
export const LOG4J_CONFIG = join(REPO_ROOT, 'scripts/kafka/log4j2.properties');
const MIN_JAVA = 17;

export interface KafkaLibs {
  version: string;
  libsDir: string;
}

/** Written last, so a fetch cut short is never taken for a complete cache. */
interface CacheMarker {
  pomSha256: string;
  jars: number;
}

/**
 * The broker's jars in .cache/kafka-<version>/libs, fetched once with Maven from the dependency
 * list in scripts/kafka/pom.xml; fetched again when that pom changes.
 */
export async function ensureKafkaLibs(): Promise<KafkaLibs> {
  const pom = await readFile(POM, 'utf8');
  const version = kafkaVersion(pom);
  const cacheDir = join(REPO_ROOT, '.cache', `kafka-${version}`);
  const libsDir = join(cacheDir, 'libs');
  const pomSha256 = createHash('sha256').update(pom).digest('hex');
  if (!(await isComplete(cacheDir, pomSha256))) await fetchLibs(cacheDir, libsDir, pomSha256);
  return { version, libsDir };
}

function kafkaVersion(pom: string): string {
  const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1];
  if (!version) throw new Error(`${POM} has no <kafka.version> property`);
  return version;
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
async function fetchLibs(cacheDir: string, libsDir: string, pomSha256: string): Promise<void> {
  await requireMaven();
  const t0 = performance.now();
  say(`fetching Kafka's jars with Maven into ${libsDir} (once)`);
  const partial = `${libsDir}.partial-${process.pid}`;
  await mkdir(cacheDir, { recursive: true });
  try {
    const output = `-DoutputDirectory=${partial}`;
    await run(['mvn', '-q', '-B', '-f', POM, 'dependency:copy-dependencies', output]);
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

async function requireMaven(): Promise<void> {
  await run(['mvn', '-v']).catch((err: Error) => {
    throw new Error(
      "Maven (mvn) is needed once, to fetch Kafka's jars into .cache/: install maven " +
        '(apt-get install maven) or set RELAY_TEST_KAFKA_BROKERS to use a running broker',
      { cause: err },
    );
  });
}

/** Kafka 4 needs Java 17; `java -version` prints e.g. `openjdk version "17.0.15"` on stderr. */
export async function requireJava(): Promise<void> {
  const found = await run(['java', '-version']).then(
    ({ stdout, stderr }) => /version "(\d+)(?:\.(\d+))?/.exec(stderr + stdout),
    () => null,
  );
  const major = found ? Number(found[1] === '1' ? found[2] : found[1]) : 0;
  if (major >= MIN_JAVA) return;
  const what = found ? `Java ${major} is on PATH` : 'no java on PATH';
  throw new Error(
    `Kafka 4 needs Java ${MIN_JAVA} or newer and ${what}: install openjdk-17-jre-headless ` +
      '(or newer) or set RELAY_TEST_KAFKA_BROKERS to use a running broker',
  );
}
