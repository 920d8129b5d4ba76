import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureMavenLibs, pomProperty } from './maven-libs.ts';
import { run } from './proc.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POM = join(REPO_ROOT, 'scripts/kafka/pom.xml');
export const LOG4J_CONFIG = join(REPO_ROOT, 'scripts/kafka/log4j2.properties');
const MIN_JAVA = 17;

export interface KafkaLibs {
  version: string;
  libsDir: string;
}

/**
 * The broker's jars in .cache/kafka-<version>/libs, fetched once with Maven from the dependency
 * list in scripts/kafka/pom.xml; fetched again when that pom changes.
 */
export async function ensureKafkaLibs(): Promise<KafkaLibs> {
  const version = pomProperty(await readFile(POM, 'utf8'), POM, 'kafka.version');
  const libsDir = await ensureMavenLibs({
    pom: POM,
    cacheDir: join(REPO_ROOT, '.cache', `kafka-${version}`),
    what: "Kafka's jars",
    otherwise: 'set RELAY_TEST_KAFKA_BROKERS to use a running broker',
  });
  return { version, libsDir };
}

/**
 * Kafka 4 (and Apicurio Registry 3) need Java 17; `java -version` prints e.g.
 * `openjdk version "17.0.15"` on stderr.
 */
export async function requireJava(
  who = 'Kafka 4',
  otherwise = 'set RELAY_TEST_KAFKA_BROKERS to use a running broker',
): Promise<void> {
  const found = await run(['java', '-version']).then(
    ({ stdout, stderr }) => /version "(\d+)(?:\.(\d+))?/.exec(stderr + stdout),
    () => null,
  );
  const major = found ? Number(found[1] === '1' ? found[2] : found[1]) : 0;
  if (major >= MIN_JAVA) return;
  const what = found ? `Java ${major} is on PATH` : 'no java on PATH';
  throw new Error(
    `${who} needs Java ${MIN_JAVA} or newer and ${what}: install openjdk-17-jre-headless ` +
      `(or newer) or ${otherwise}`,
  );
}
