/**
 * Counts what Kafka holds with a reader that shares no code with the relay: Kafka's Java consumer
 * and Apache Avro Java (JavaOutboxReader.java, run by Java's source launcher). Every fault test
 * that claims "0 lost" should end here: a bug in our decoder cannot hide a bug in our encoder.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PACKAGE_ROOT } from '../../src/db/paths.ts';
import { avroJavaClasspath } from './avro-java.ts';
import { countDelivery, type DeliveryCount } from './delivery.ts';
import type { TestEvent } from './fixtures.ts';
import { kafkaClientsClasspath } from './java-murmur2.ts';

const PROGRAM = join(import.meta.dirname, 'JavaOutboxReader.java');
const ENVELOPE = join(PACKAGE_ROOT, 'schemas', 'outbox-envelope.avsc');

export interface JavaRecord {
  topic: string;
  partition: number;
  offset: string;
  /** The key's partition as Kafka's Java producer computes it. */
  javaPartition: number | null;
  eventId: string | null;
  aggregateId: string | null;
  key: string | null;
  payload: string | null;
  /** The record's headers, name to UTF-8 value. */
  headers: Record<string, string>;
  /** Avro: the whole decoded envelope as Avro Java prints it (JSON). */
  record: Record<string, unknown> | null;
  undecodable: string | null;
}

/** How the values were written: the relay's Avro envelope, or RELAY_VALUE_FORMAT=raw. */
export type JavaReadMode = 'avro' | 'raw';

export interface JavaCount extends DeliveryCount {
  undecodable: number;
  /** Records not on the partition Java's producer would pick for their key. */
  wrongPartition: number;
  /** Records whose key is not their aggregate id. */
  wrongKey: number;
}

/** Reads every record of `topics` from the beginning, once. */
export async function readAllWithJava(
  brokers: readonly string[],
  topics: readonly string[],
  isolation: 'read_committed' | 'read_uncommitted' = 'read_uncommitted',
  mode: JavaReadMode = 'avro',
  envelopeFile = ENVELOPE,
): Promise<JavaRecord[]> {
  const classpath = `${await avroJavaClasspath()}:${kafkaClientsClasspath()}`;
  const schema = mode === 'raw' ? 'raw' : envelopeFile;
  const args = ['-cp', classpath, PROGRAM, brokers.join(','), isolation, schema, ...topics];
  const output = await runJava(args);
  const known = new Set(topics);
  return output
    .split('\n')
    .map((line) => line.split('\t'))
    .filter((f) => f.length >= 6 && known.has(f[0] ?? ''))
    .map(toRecord);
}

/**
 * Reads until every expected event arrived at least once (or `timeoutMs` passed), then counts
 * lost, duplicated, reordered, undecodable and misplaced records.
 */
export async function countWithJava(
  brokers: readonly string[],
  topicOf: (event: TestEvent) => string,
  events: readonly TestEvent[],
  options: {
    timeoutMs?: number;
    isolation?: 'read_committed' | 'read_uncommitted';
    mode?: JavaReadMode;
    /** An envelope schema with appended fields (RELAY_ADDITIONAL_COLUMNS, `envelope`). */
    envelopeFile?: string;
  } = {},
): Promise<JavaCount> {
  const topics = [...new Set(events.map(topicOf))];
  const expected = new Set(events.map((e) => e.id));
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let records: JavaRecord[] = [];
  for (;;) {
    records = await readAllWithJava(
      brokers,
      topics,
      options.isolation,
      options.mode,
      options.envelopeFile,
    );
    const seen = new Set(records.map((r) => r.eventId));
    if ([...expected].every((id) => seen.has(id)) || Date.now() > deadline) break;
    await sleep(1_000);
  }
  const decoded = records.filter((r) => r.undecodable === null);
  const delivered = decoded.map((r) => ({
    id: r.eventId ?? '',
    aggregateId: r.aggregateId ?? '',
    seq: (JSON.parse(r.payload ?? '{}') as { seq: number }).seq,
  }));
  return {
    ...countDelivery(events, delivered),
    undecodable: records.length - decoded.length,
    wrongPartition: records.filter(
      (r) => r.javaPartition !== null && r.javaPartition !== r.partition,
    ).length,
    wrongKey: decoded.filter((r) => r.key !== r.aggregateId).length,
  };
}

function toRecord(f: string[]): JavaRecord {
  const [topic = '', partition, offset = '', javaPartition, a, b, key, payload, headers, whole] = f;
  const base = {
    topic,
    partition: Number(partition),
    offset,
    javaPartition: javaPartition === '-' ? null : Number(javaPartition),
  };
  if (a === 'undecodable')
    return {
      ...base,
      eventId: null,
      aggregateId: null,
      key: null,
      payload: null,
      headers: {},
      record: null,
      undecodable: b ?? '',
    };
  return {
    ...base,
    eventId: a ?? null,
    aggregateId: b ?? null,
    key: key ?? null,
    payload: Buffer.from(payload ?? '', 'base64').toString('utf8'),
    headers: parseHeaderLines(Buffer.from(headers ?? '', 'base64').toString('utf8')),
    record: whole
      ? (JSON.parse(Buffer.from(whole, 'base64').toString('utf8')) as Record<string, unknown>)
      : null,
    undecodable: null,
  };
}

function parseHeaderLines(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split('\n').filter(Boolean)) {
    const at = line.indexOf('=');
    headers[line.slice(0, at)] = line.slice(at + 1);
  }
  return headers;
}

function runJava(args: string[]): Promise<string> {
  const java = spawn('java', ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', ...args]);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  java.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  java.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  return new Promise((resolve, reject) => {
    java.on('error', (err) =>
      reject(new Error('cannot run java: a JDK 17 or newer is needed', { cause: err })),
    );
    java.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(stdout).toString('utf8'));
      else
        reject(
          new Error(
            `JavaOutboxReader exited with ${code}: ${Buffer.concat(stderr).toString('utf8').slice(-2000)}`,
          ),
        );
    });
  });
}
