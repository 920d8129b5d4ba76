/**
 * The Kafka adapter's producing side; its admin side for `doctor` is kafka-inspect.ts. Only
 * these two files import the Kafka client (an eslint rule keeps it so). kafkajs has had no release since 2023 (its
 * maintainers asked for successors), so everything else talks to this small interface.
 *
 * Producer settings that matter for correctness: acks=all, idempotent, Java-compatible murmur2
 * partitioning (kafkajs' DefaultPartitioner), one request in flight: a failed request is retried
 * as a whole, and a second concurrent request to the same partition could overtake it.
 */
import { randomUUID } from 'node:crypto';
import {
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type LogEntry,
  type Producer,
} from 'kafkajs';
import { findInChain, RelayError } from '../domain/errors.ts';
import type { Logger } from '../ops/logger.ts';
import { explainKafkaFailure, openSocket, type KafkaSecurity } from './kafka-security.ts';

export interface KafkaRecord {
  readonly topic: string;
  /** The aggregate id as UTF-8 text, or its Avro encoding (RELAY_KEY_FORMAT=avro). */
  readonly key: string | Buffer | null;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

export interface KafkaSinkOptions {
  brokers: string[];
  clientId: string;
  partitions: number;
  replicationFactor: number;
  logger: Logger;
  /** Set for exactly-once: every send() is one Kafka transaction under this id. */
  transactionalId?: string;
  /** TLS and SASL, as kafkaSecurity() makes them from the settings. */
  security?: KafkaSecurity;
}

export interface KafkaSink {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Creates missing topics with the configured partition count; remembers known ones. */
  ensureTopics(topics: readonly string[]): Promise<void>;
  /** Resolves once the brokers acknowledged every record (acks=all). */
  send(records: readonly KafkaRecord[]): Promise<void>;
  /** Topics whose partition count differs from when they were first used. */
  changedPartitionCounts(): Promise<PartitionChange[]>;
  /**
   * Transactional sinks only: fences any earlier producer with the same transactional id (its
   * open transaction is aborted), so that what is read afterwards is final.
   */
  fence(): Promise<void>;
  /** Creates `topic` compacted with one partition if missing (for checkpoints). */
  ensureCompactedTopic(topic: string): Promise<void>;
  /** The value of the last committed record with this key (read_committed), or null. */
  readLatest(topic: string, key: string): Promise<Buffer | null>;
  /**
   * Writes one record beside the event stream (the at-least-once durable position), on a
   * producer of its own: it never shares a request, a retry or a reset with the events.
   */
  sendAside(record: KafkaRecord): Promise<void>;
}

export interface PartitionChange {
  topic: string;
  before: number;
  now: number;
}

// kafkajs logs at ERROR what it then retries ("coordinator is loading", "not the leader"); what
// really fails surfaces through the publisher, which logs it. So its errors are our warnings.
const KAFKAJS_TO_PINO: Record<number, 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'warn',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** How long disconnect() waits for kafkajs (below the supervisor's CLOSE_BOUND_MS of 2 s). */
const DISCONNECT_TIMEOUT_MS = 1500;

export function createKafkaSink(options: KafkaSinkOptions): KafkaSink {
  return new KafkajsSink(options);
}

class KafkajsSink implements KafkaSink {
  private readonly kafka: Kafka;
  private readonly options: KafkaSinkOptions;
  private producer: Producer;
  private aside: Promise<Producer> | undefined;
  private admin: Admin | undefined;
  /** Topics in use, with their partition count when first used. */
  private readonly knownTopics = new Map<string, number>();
  private needsReset = false;

  constructor(options: KafkaSinkOptions) {
    this.options = options;
    const log = options.logger.child({ stage: 'kafka' });
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      ...options.security,
      socketFactory: openSocket,
      logLevel: KafkaLogLevel.WARN,
      logCreator: () => (entry: LogEntry) => {
        const { message, ...extra } = entry.log;
        // kafkajs warns when an idempotent producer's retries are finite. They are finite on
        // purpose: after them the publisher retries the same batch with a fresh producer, so an
        // outage shows in /readyz instead of hiding in endless internal retries.
        const level = message.startsWith('Limiting retries')
          ? 'debug'
          : KAFKAJS_TO_PINO[entry.level];
        log[level ?? 'info'](extra, message);
      },
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5000 },
    });
    this.producer = this.newProducer();
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      ...(this.options.transactionalId ? { transactionalId: this.options.transactionalId } : {}),
    });
  }

  async fence(): Promise<void> {
    if (!this.options.transactionalId) return;
    // The first transaction() initialises the producer id, which bumps the epoch and makes the
    // coordinator abort whatever the previous holder of this id left open.
    const transaction = await this.producer.transaction();
    await transaction.abort();
  }

  async readLatest(topic: string, key: string): Promise<Buffer | null> {
    const admin = await this.adminClient();
    const offsets = await admin.fetchTopicOffsets(topic);
    if (offsets.every((p) => p.high === p.low)) return null;
    return readLatestCommitted(this.kafka, topic, key);
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (error) {
      throw kafkaError('cannot connect to Kafka', error, this.options);
    }
  }

  /**
   * Bounded: kafkajs first waits for the requests in flight, which with the broker gone means
   * its whole retry cycle (tens of seconds). After DISCONNECT_TIMEOUT_MS it stops waiting.
   */
  async disconnect(): Promise<void> {
    const aside = this.aside?.then((p) => p.disconnect());
    this.aside = undefined;
    const disconnected = Promise.allSettled([
      this.producer.disconnect(),
      this.admin?.disconnect(),
      aside,
    ]);
    this.admin = undefined;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DISCONNECT_TIMEOUT_MS);
    });
    await Promise.race([disconnected, late]);
    clearTimeout(timer);
  }

  async sendAside(record: KafkaRecord): Promise<void> {
    this.aside ??= this.connectAside();
    try {
      const producer = await this.aside;
      await producer.send({ acks: -1, topic: record.topic, messages: [record] });
    } catch (error) {
      const failed = this.aside;
      this.aside = undefined;
      void failed?.then((p) => p.disconnect()).catch(() => undefined);
      throw kafkaError('Kafka did not take the durable position', error, this.options);
    }
  }

  private async connectAside(): Promise<Producer> {
    const producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    return producer;
  }

  /**
   * After a failed request the producer may hold a broken idempotence state (sequence numbers
   * the broker no longer agrees with); a fresh producer, with a fresh producer id, starts clean.
   */
  private async reset(): Promise<void> {
    await this.producer.disconnect().catch(() => undefined);
    this.producer = this.newProducer();
    await this.connect();
    this.needsReset = false;
  }

  async ensureTopics(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((t) => !this.knownTopics.has(t));
    if (missing.length === 0) return;
    const admin = await this.adminClient();
    const existing = new Set(await admin.listTopics());
    const create = missing.filter((t) => !existing.has(t));
    if (create.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: create.map((topic) => ({
          topic,
          numPartitions: this.options.partitions,
          replicationFactor: this.options.replicationFactor,
        })),
      });
      this.options.logger.info(
        { topics: create, partitions: this.options.partitions },
        'created topics',
      );
    }
    const counts = await this.partitionCounts(missing);
    for (const topic of missing) this.knownTopics.set(topic, counts.get(topic) ?? 0);
  }

  async changedPartitionCounts(): Promise<PartitionChange[]> {
    if (this.knownTopics.size === 0) return [];
    const counts = await this.partitionCounts([...this.knownTopics.keys()]);
    const changes: PartitionChange[] = [];
    for (const [topic, before] of this.knownTopics) {
      const now = counts.get(topic);
      if (now !== undefined && now !== before) {
        changes.push({ topic, before, now });
        this.knownTopics.set(topic, now); // warn once per change
      }
    }
    return changes;
  }

  private async partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const admin = await this.adminClient();
    const metadata = await admin.fetchTopicMetadata({ topics });
    return new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
  }

  async send(records: readonly KafkaRecord[]): Promise<void> {
    try {
      if (this.needsReset) await this.reset();
      if (this.options.transactionalId) await this.sendInTransaction(records);
      else await this.producer.sendBatch({ acks: -1, topicMessages: groupByTopic(records) });
    } catch (error) {
      this.needsReset = true;
      if (tooLarge(error)) {
        throw new RelayError(
          'KAFKA_TOO_LARGE',
          `Kafka refused a batch as too large: ${String(error)}`,
          {
            cause: error,
            hint: "A record is larger than the broker's message.max.bytes or the topic's max.message.bytes.",
          },
        );
      }
      throw kafkaError('Kafka did not acknowledge a batch', error, this.options);
    }
  }

  private async sendInTransaction(records: readonly KafkaRecord[]): Promise<void> {
    const transaction = await this.producer.transaction();
    try {
      await transaction.sendBatch({ acks: -1, topicMessages: groupByTopic(records) });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  /** Creates `topic` compacted with one partition if missing (for checkpoints). */
  async ensureCompactedTopic(topic: string): Promise<void> {
    const admin = await this.adminClient();
    if ((await admin.listTopics()).includes(topic)) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 1,
          replicationFactor: this.options.replicationFactor,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
  }

  private async adminClient(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }
}

function groupByTopic(records: readonly KafkaRecord[]) {
  const byTopic = new Map<
    string,
    { key: string | Buffer | null; value: Buffer; headers: Record<string, string> }[]
  >();
  for (const record of records) {
    let messages = byTopic.get(record.topic);
    if (!messages) byTopic.set(record.topic, (messages = []));
    messages.push({
      key: record.key,
      value: record.value,
      headers: record.headers,
    });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

const TOO_LARGE_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/** True when the broker refused the request for its size: retrying it unchanged never helps. */
function tooLarge(error: unknown): boolean {
  const type = (e: Error) => (e as Error & { type?: string }).type ?? '';
  return findInChain(error, (e) => TOO_LARGE_TYPES.has(type(e)) || undefined) ?? false;
}

function kafkaError(what: string, error: unknown, options: KafkaSinkOptions): RelayError {
  const message = error instanceof Error ? error.message : String(error);
  const { hint, retriable } = explainKafkaFailure(error, options.brokers, options.security);
  return new RelayError('KAFKA_PUBLISH', `${what}: ${message}`, { cause: error, retriable, hint });
}

/**
 * Reads a topic to its end with read_committed isolation and returns the last value of `key`.
 * The end is known from kafkajs' batch events, which also fire for batches that hold only
 * transaction markers or aborted records: an offset lag of 0 means everything was read.
 */
async function readLatestCommitted(
  kafka: Kafka,
  topic: string,
  key: string,
): Promise<Buffer | null> {
  const consumer = kafka.consumer({
    groupId: `outbox-relay-checkpoint-reader-${randomUUID()}`,
    readUncommitted: false,
    maxWaitTimeInMs: 200,
  });
  let latest: Buffer | null = null;
  await consumer.connect();
  try {
    const caughtUp = new Promise<void>((resolve) => {
      consumer.on(consumer.events.END_BATCH_PROCESS, (event) => {
        if (event.payload.topic === topic && event.payload.offsetLag === '0') resolve();
      });
    });
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: ({ message }) => {
        if (message.key?.toString() === key)
          latest = message.value ? Buffer.from(message.value) : null;
        return Promise.resolve();
      },
    });
    await withTimeout(caughtUp, 60_000, `reading the checkpoint topic "${topic}" took over 60 s`);
  } finally {
    await consumer.disconnect();
  }
  return latest;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RelayError('KAFKA_CONNECT', message, { retriable: true })),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
