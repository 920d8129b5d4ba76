/**
 * Kafka's own Java partitioner, as an oracle for tests: which partition the Java producer (and so
 * every Java-compatible client) picks for a key. Runs JavaMurmur2.java, a single-file program, in
 * one JVM for all keys; the kafka-clients jar comes from a local Kafka distribution, else Maven.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const PACKAGE_ROOT = resolve(import.meta.dirname, '../..');
const JAVA_PROGRAM = join(import.meta.dirname, 'JavaMurmur2.java');
const KAFKA_CLIENTS_ARTIFACT = 'org.apache.kafka:kafka-clients:4.1.1';
const M2 = join(homedir(), '.m2', 'repository');

/** Numeric-aware descending order, so 4.10.0 sorts before 4.9.1. */
function newestFirst(versions: string[]): string[] {
  return [...versions].sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
}

function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** `<root>/.cache/kafka-<version>/libs/*`: a Kafka distribution has every jar the client needs. */
function distributionClasspath(): string | undefined {
  const cache = join(PACKAGE_ROOT, '.cache');
  for (const dist of newestFirst(listDir(cache).filter((name) => name.startsWith('kafka-')))) {
    const libs = join(cache, dist, 'libs');
    if (listDir(libs).some((jar) => /^kafka-clients-.*\.jar$/.test(jar))) {
      return join(libs, '*');
    }
  }
  return undefined;
}

/** The newest `<group>/<artifact>/<version>/<artifact>-<version>.jar` in the local Maven repo. */
function newestMavenJar(groupPath: string, artifact: string): string | undefined {
  const dir = join(M2, groupPath, artifact);
  return newestFirst(listDir(dir))
    .map((version) => join(dir, version, `${artifact}-${version}.jar`))
    .find((jar) => existsSync(jar));
}

/** kafka-clients plus slf4j-api, which its Utils class loads in a static initializer. */
function mavenClasspath(): string | undefined {
  const clients = newestMavenJar('org/apache/kafka', 'kafka-clients');
  const slf4j = newestMavenJar('org/slf4j', 'slf4j-api');
  return clients && slf4j ? [clients, slf4j].join(':') : undefined;
}

function fetchKafkaClients(): void {
  const args = ['-q', 'dependency:get', `-Dartifact=${KAFKA_CLIENTS_ARTIFACT}`];
  const result = spawnSync('mvn', args, { stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(
      `mvn ${args.join(' ')} failed (exit ${result.status}): cannot get kafka-clients`,
    );
  }
}

let classpath: string | undefined;

/** Found once per test process; fetches kafka-clients with Maven as a last resort. */
export function kafkaClientsClasspath(): string {
  classpath ??= distributionClasspath() ?? mavenClasspath();
  if (classpath === undefined) {
    fetchKafkaClients();
    classpath = mavenClasspath();
  }
  if (classpath === undefined) {
    throw new Error(`kafka-clients not found under ${PACKAGE_ROOT}/.cache/kafka-*/libs or ${M2}`);
  }
  return classpath;
}

/** Runs the Java program; resolves with its standard output. */
function runJava(args: string[], input: string): Promise<string> {
  const java = spawn('java', ['-cp', kafkaClientsClasspath(), JAVA_PROGRAM, ...args]);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  java.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  java.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  java.stdin.end(input);
  return new Promise((resolvePromise, reject) => {
    java.on('error', reject);
    java.on('close', (code) => {
      if (code === 0) {
        resolvePromise(Buffer.concat(stdout).toString('utf8'));
      } else {
        reject(new Error(`java exited with ${code}: ${Buffer.concat(stderr).toString('utf8')}`));
      }
    });
  });
}

/**
 * For each partition count, each key's partition as Kafka's Java producer computes it, from the
 * key's UTF-8 bytes (what a Java StringSerializer would send). One JVM for everything.
 */
export async function javaPartitionsByCount(
  keys: readonly string[],
  partitionCounts: readonly number[],
): Promise<Map<number, Map<string, number>>> {
  const input = keys.map((key) => `${Buffer.from(key, 'utf8').toString('base64')}\n`).join('');
  const lines = (await runJava(partitionCounts.map(String), input)).split('\n');
  if (lines.length !== keys.length + 1) {
    throw new Error(`JavaMurmur2 answered ${lines.length - 1} lines for ${keys.length} keys`);
  }
  const result = new Map(partitionCounts.map((count) => [count, new Map<string, number>()]));
  keys.forEach((key, row) => {
    const partitions = (lines[row] ?? '').split(' ').map(Number);
    partitionCounts.forEach((count, column) => {
      result.get(count)?.set(key, partitions[column] ?? Number.NaN);
    });
  });
  return result;
}

/** Each key's partition among `partitionCount`, as Kafka's Java producer computes it. */
export async function javaPartitions(
  keys: readonly string[],
  partitionCount: number,
): Promise<Map<string, number>> {
  const byCount = await javaPartitionsByCount(keys, [partitionCount]);
  return byCount.get(partitionCount) ?? new Map();
}
