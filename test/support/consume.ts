/** Reads topics back from the beginning with an independent Kafka consumer and decodes them. */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { decodeEnvelope, type DecodedEnvelope } from '../../src/encode/index.ts';

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** The key as sent, for keys that are not UTF-8 text (RELAY_KEY_FORMAT=avro). */
  keyBytes: Buffer | null;
  headers: Record<string, string>;
  value: Buffer;
}

export interface ConsumeOptions {
  brokers: string[];
  topics: string[];
  /** Stop once this many records arrived (and the topics were read for `settleMs` more). */
  atLeast: number;
  /**
   * Count toward `atLeast` distinct events only (by the `event_id` header), so that duplicates
   * read first cannot end the read before the last events arrive and pass for lost.
   */
  distinctEvents?: boolean;
  timeoutMs?: number;
  settleMs?: number;
  isolation?: 'read_committed' | 'read_uncommitted';
}

export async function consumeAll(options: ConsumeOptions): Promise<ConsumedRecord[]> {
  const kafka = new Kafka({
    clientId: 'test-consumer',
    brokers: options.brokers,
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({
    groupId: `test-${randomUUID()}`,
    readUncommitted: options.isolation !== 'read_committed',
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  const records: ConsumedRecord[] = [];
  await waitForTopics(kafka, options.topics, options.timeoutMs ?? 60_000);
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: options.topics, fromBeginning: true });
    let reachedAt = 0;
    const distinct = new Set<string>();
    let withoutId = 0;
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: ({ batch }) => {
        for (const m of batch.messages) {
          records.push({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ? m.key.toString() : null,
            keyBytes: m.key ?? null,
            headers: headersOf(m.headers),
            value: m.value ?? Buffer.alloc(0),
          });
          const id = options.distinctEvents ? m.headers?.event_id : undefined;
          if (id === undefined) withoutId++;
          else distinct.add(id.toString());
        }
        if (reachedAt === 0 && distinct.size + withoutId >= options.atLeast) reachedAt = Date.now();
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    const settle = options.settleMs ?? 1500;
    while (Date.now() < deadline && (reachedAt === 0 || Date.now() - reachedAt < settle)) {
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** The relay creates topics on their first event; subscribing earlier would fail. */
async function waitForTopics(kafka: Kafka, topics: string[], timeoutMs: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      if (Date.now() > deadline) throw new Error(`topics never appeared: ${missing.join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

function headersOf(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (Buffer.isBuffer(value) || typeof value === 'string') out[name] = value.toString();
  }
  return out;
}

export function decodeAll(
  records: readonly ConsumedRecord[],
): (ConsumedRecord & { event: DecodedEnvelope })[] {
  return records.map((r) => ({ ...r, event: decodeEnvelope(r.value) }));
}
