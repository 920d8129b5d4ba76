/**
 * The ceiling the relay's drain is compared with: Kafka's own Java producer
 * (org.apache.kafka.tools.ProducerPerformance, from the broker's jars) writing as many records as
 * a backlog holds, of the relay's mean record size, to a topic with the relay's partition count,
 * with the relay's guarantees (acks=all, idempotence) and otherwise Kafka's defaults. Its records
 * have no key and no headers: it is an upper bound, not the same work.
 */
import { randomUUID } from 'node:crypto';
import { ensureKafkaLibs } from '../services/kafka-libs.ts';
import { run } from '../services/proc.ts';
import type { BenchContext } from './harness.ts';
import { createTopics, deleteTopics } from './kafka.ts';

export interface ProducerCeilingRun {
  recordsPerSecond: number | null;
  mbPerSecond: number | null;
  records: number;
  recordSize: number;
  /** What ProducerPerformance printed last (its summary), for the record. */
  summary: string;
}

export const PRODUCER_CEILING_MEASURED_BY =
  'org.apache.kafka.tools.ProducerPerformance from the broker jars: --throughput -1, acks=all, ' +
  'enable.idempotence=true, other producer settings at their defaults; unkeyed records of the ' +
  "relay's mean record size (value bytes of the hundred-event run), no headers";

export async function measureProducerCeiling(
  ctx: BenchContext,
  options: { records: number; recordSize: number; partitions: number },
): Promise<ProducerCeilingRun> {
  const { libsDir } = await ensureKafkaLibs();
  const topic = `bench-producer-ceiling-${randomUUID()}`;
  await createTopics(ctx.brokers, [topic], options.partitions);
  try {
    const { stdout } = await run([
      'java',
      '-Xmx512m',
      '-cp',
      `${libsDir}/*`,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(options.records),
      '--record-size',
      String(options.recordSize),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${ctx.brokers.join(',')}`,
      'acks=all',
      'enable.idempotence=true',
    ]);
    return { ...parseSummary(stdout), records: options.records, recordSize: options.recordSize };
  } finally {
    await deleteTopics(ctx.brokers, [topic]).catch(() => undefined);
  }
}

/** `50000 records sent, 68493.2 records/sec (33.77 MB/sec), 150.1 ms avg latency, …` */
export function parseSummary(stdout: string): Omit<ProducerCeilingRun, 'records' | 'recordSize'> {
  const lines = stdout.trim().split('\n');
  const summary = lines[lines.length - 1] ?? '';
  const match = /records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(summary);
  return {
    recordsPerSecond: match ? Math.round(Number(match[1])) : null,
    mbPerSecond: match ? Number(match[2]) : null,
    summary,
  };
}
