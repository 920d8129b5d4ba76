/**
 * Apache Avro's Java library as an oracle for tests: what it reads from the bytes we write. Runs
 * AvroJavaDecode.java in one JVM for a whole batch. The jars come from Maven Central (the list is
 * avro-java.pom.xml) into .cache/avro-<version>/libs on first use, and the program is compiled
 * next to them once per version of its source, so later runs need no network and no compiler.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ensureMavenLibs, pomProperty } from '../../scripts/services/maven-libs.ts';
import { run } from '../../scripts/services/proc.ts';

const PACKAGE_ROOT = resolve(import.meta.dirname, '../..');
const POM = join(import.meta.dirname, 'avro-java.pom.xml');
const JAVA_SOURCE = join(import.meta.dirname, 'AvroJavaDecode.java');
const MAIN_CLASS = 'AvroJavaDecode';

/** The org.apache.avro:avro version the tests decode with. */
export const AVRO_JAVA_VERSION = pomProperty(readFileSync(POM, 'utf8'), POM, 'avro.version');

/** How the message is framed around the Avro binary body. */
export type AvroJavaFormat =
  /** C3 01, the writer schema's CRC-64-AVRO fingerprint (8 bytes, little-endian), the body. */
  | 'single-object'
  /** Magic byte 0, a 4-byte schema registry id (not checked), the body. */
  | 'confluent'
  /** The body alone. */
  | 'raw';

export interface AvroJavaCase {
  /** The writer schema's JSON text. */
  readonly schema: string;
  readonly bytes: Buffer;
  readonly format: AvroJavaFormat;
}

/**
 * Decodes each message with Avro Java (GenericDatumReader, BinaryMessageDecoder for single
 * objects) and returns, per case, GenericData.toString of the datum with the logical-type
 * conversions registered: timestamps as Instant, dates as LocalDate and uuids as UUID, each a
 * quoted toString; decimals as BigDecimal, a bare JSON number with every digit of the scale.
 * Rejects, naming every failed case, if Java could not decode one, found the wrong single-object
 * fingerprint, or found bytes left after the datum.
 */
export async function decodeWithAvroJava(cases: readonly AvroJavaCase[]): Promise<string[]> {
  const input = cases.map((c) => `${c.format}\t${base64(c.schema)}\t${base64(c.bytes)}\n`);
  const lines = (await runJava(await avroJavaClasspath(), input.join(''))).split('\n');
  if (lines.pop() !== '' || lines.length !== cases.length) {
    throw new Error(`${MAIN_CLASS} answered ${lines.length} lines for ${cases.length} cases`);
  }
  const failures = lines.flatMap((line, i) =>
    line.startsWith('ok\t')
      ? []
      : [`case ${i} (${cases[i]?.format}): ${line.replace(/^error\t/, '')}`],
  );
  if (failures.length > 0) {
    throw new Error(`Avro Java ${AVRO_JAVA_VERSION} refused:\n${failures.join('\n')}`);
  }
  return lines.map((line) => line.slice(3));
}

type Reviver = (key: string, value: unknown, context: { source?: string }) => unknown;

/**
 * JSON.parse of a rendering, except that numbers come back as their exact source text: a long
 * may pass 2^53, and "12.30" is a decimal of scale 2 that JSON.parse would make 12.3.
 */
export function parseAvroJavaJson(text: string): unknown {
  const numbersAsText: Reviver = (_key, value, context) =>
    typeof value === 'number' ? context.source : value;
  return JSON.parse(text, numbersAsText as Parameters<typeof JSON.parse>[1]) as unknown;
}

/** Instant.toString of an epoch count of `unitsPerSecond` (1000n millis, 1_000_000n micros). */
export function javaInstantText(count: bigint, unitsPerSecond: bigint): string {
  const unitsPerDay = 86_400n * unitsPerSecond;
  const days = floorDiv(count, unitsPerDay);
  const ofDay = count - days * unitsPerDay;
  const seconds = ofDay / unitsPerSecond;
  const micros = ((ofDay % unitsPerSecond) * 1_000_000n) / unitsPerSecond;
  const hms = [seconds / 3600n, (seconds / 60n) % 60n, seconds % 60n].map((n) => pad(n, 2));
  // ISO_INSTANT prints the fraction in groups of three digits, and none when it is zero.
  const fraction =
    micros === 0n
      ? ''
      : micros % 1000n === 0n
        ? `.${pad(micros / 1000n, 3)}`
        : `.${pad(micros, 6)}`;
  return `${javaLocalDateText(days)}T${hms.join(':')}${fraction}Z`;
}

/** LocalDate.toString of a day count since 1970-01-01: years past 9999 get a "+". */
export function javaLocalDateText(epochDay: bigint): string {
  const { year, month, day } = civilFromDays(epochDay);
  const yearText = year > 9999n ? `+${year}` : year < 0n ? `-${pad(-year, 4)}` : pad(year, 4);
  return `${yearText}-${pad(month, 2)}-${pad(day, 2)}`;
}

/** The proleptic Gregorian date of a day count (H. Hinnant's civil_from_days, in bigint). */
function civilFromDays(epochDay: bigint): { year: bigint; month: bigint; day: bigint } {
  const z = epochDay + 719_468n;
  const era = floorDiv(z, 146_097n);
  const dayOfEra = z - era * 146_097n;
  const yearOfEra = (dayOfEra - dayOfEra / 1460n + dayOfEra / 36_524n - dayOfEra / 146_096n) / 365n;
  const dayOfYear = dayOfEra - (365n * yearOfEra + yearOfEra / 4n - yearOfEra / 100n);
  const shiftedMonth = (5n * dayOfYear + 2n) / 153n;
  const day = dayOfYear - (153n * shiftedMonth + 2n) / 5n + 1n;
  const month = shiftedMonth < 10n ? shiftedMonth + 3n : shiftedMonth - 9n;
  return { year: yearOfEra + era * 400n + (month <= 2n ? 1n : 0n), month, day };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const quotient = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? quotient - 1n : quotient;
}

function pad(value: bigint, width: number): string {
  return value.toString().padStart(width, '0');
}

function base64(data: string | Buffer): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64');
}

let classpath: Promise<string> | undefined;

/**
 * Fetches the jars and compiles the program if not done yet (once per test process): call it
 * first to time the JVM runs apart from a cold cache.
 */
export function avroJavaClasspath(): Promise<string> {
  classpath ??= prepare();
  return classpath;
}

async function prepare(): Promise<string> {
  const cacheDir = join(PACKAGE_ROOT, '.cache', `avro-${AVRO_JAVA_VERSION}`);
  const libsDir = await ensureMavenLibs({
    pom: POM,
    cacheDir,
    what: `Apache Avro ${AVRO_JAVA_VERSION}'s Java jars`,
  });
  const jars = join(libsDir, '*');
  return `${await compile(cacheDir, jars)}:${jars}`;
}

/**
 * Compiles the program into a folder named after its source's hash, so an edited source is
 * compiled anew; into a private folder first, renamed into place, as two processes may race.
 */
async function compile(cacheDir: string, jars: string): Promise<string> {
  const source = readFileSync(JAVA_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const classesDir = join(cacheDir, `classes-${hash}`);
  if (existsSync(join(classesDir, `${MAIN_CLASS}.class`))) return classesDir;
  const partial = `${classesDir}.partial-${process.pid}`;
  await mkdir(partial, { recursive: true });
  try {
    await run(['javac', '-nowarn', '-d', partial, '-cp', jars, JAVA_SOURCE]).catch((err: Error) => {
      throw new Error(`cannot compile ${JAVA_SOURCE}: a JDK 17 or newer (javac) is needed`, {
        cause: err,
      });
    });
    await rename(partial, classesDir).catch((err: unknown) => {
      if (!existsSync(join(classesDir, `${MAIN_CLASS}.class`))) throw err;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return classesDir;
}

// A short run: C1 only and the serial collector start fastest; quiet SLF4J's "no provider" lines.
const JVM_OPTIONS = [
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-Dslf4j.internal.verbosity=ERROR',
];

/** Runs the program over `input`; resolves with its standard output. */
function runJava(cp: string, input: string): Promise<string> {
  const java = spawn('java', [...JVM_OPTIONS, '-cp', cp, MAIN_CLASS]);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  java.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  java.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  // A JVM that dies early closes its input; the exit code below says why, not this EPIPE.
  java.stdin.on('error', () => undefined);
  java.stdin.end(input);
  return new Promise((resolvePromise, reject) => {
    java.on('error', (err) =>
      reject(new Error('cannot run java: a JDK 17 or newer is needed', { cause: err })),
    );
    java.on('close', (code) => {
      if (code === 0) {
        resolvePromise(Buffer.concat(stdout).toString('utf8'));
      } else {
        reject(new Error(`java exited with ${code}: ${Buffer.concat(stderr).toString('utf8')}`));
      }
    });
  });
}
