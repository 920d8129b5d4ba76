/**
 * The Kafka adapter's producing side; its admin side for `doctor` is kafka-inspect.ts. Only
 * these two files import the Kafka client (an eslint rule keeps it so). kafkajs has had no release since 2023 (its
 * maintainers asked for successors), so everything else talks to this small interface.
 *
 * Producer settings that matter for correctness: acks=all, idempotent, Java-compatible murmur2
 * partitioning (kafkajs' DefaultPartitioner), one request in flight: a failed request is retried
 * as a whole, and a second concurrent request to the same partition could overtake it.
 */
import {
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type ConfigResourceTypes,
  type LogEntry,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import { errorMessage, RelayError } from '../domain/errors.ts';
import type { Sendable } from '../encode/sealed.ts';
import type { Logger } from '../ops/logger.ts';
import { explainKafkaFailure, openSocket, type KafkaSecurity } from './kafka-security.ts';
import { classifyKafkaError, classifyPerTopic, collidingTopic } from './kafka-errors.ts';
import { KafkajsBatch, kafkajsCluster, READ_COMMITTED } from './kafkajs-internals.ts';
import { createPlatformaticProducer } from './kafka-platformatic.ts';

export interface KafkaRecord {
  readonly topic: string;
  /** The aggregate id as UTF-8 text, or its Avro encoding (RELAY_KEY_FORMAT=avro). */
  readonly key: string | Sendable | null;
  readonly value: Sendable;
  readonly headers: Readonly<Record<string, string>>;
}

/** Where Kafka put records of a request: one entry per topic and partition it wrote. */
export interface Placement {
  readonly topic: string;
  readonly partition: number;
}

export interface KafkaSinkOptions {
  brokers: string[];
  clientId: string;
  partitions: number;
  replicationFactor: number;
  logger: Logger;
  /**
   * Exactly-once: every send() is one Kafka transaction, under the transactional id that
   * fence() was last given (sends before the first fence() are refused).
   */
  transactional?: boolean;
  /** TLS and SASL, as kafkaSecurity() makes them from the settings. */
  security?: KafkaSecurity;
  /**
   * Which library produces the events (RELAY_KAFKA_CLIENT); absent: kafkajs. Topic
   * administration, sendAside, readLatest and transactions are kafkajs' either way.
   */
  client?: KafkaClientName;
}

export type KafkaClientName = 'kafkajs' | 'platformatic';

/**
 * The events' producer when it is not kafkajs' (kafka-platformatic.ts): acks=all, idempotent,
 * Java murmur2 partitions, finite retries, and errors that classifyKafkaError() can name.
 */
export interface EventProducer {
  connect(): Promise<void>;
  send(records: readonly KafkaRecord[]): Promise<readonly Placement[]>;
  disconnect(): Promise<void>;
}

/** A topic the relay may publish to, with its size limit, or what Kafka said when it refused it. */
export type TopicState =
  | {
      readonly ok: true;
      /** The topic's max.message.bytes (a partition's record batch); null if it cannot be read. */
      readonly maxMessageBytes: number | null;
    }
  | { readonly ok: false; readonly refusal: string };

export interface KafkaSink {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /**
   * Creates missing topics with the configured partition count and reads their size limit;
   * remembers both. A topic Kafka refuses to create (an invalid or colliding name, no
   * authorization for it) is reported, not thrown, and tried again next time.
   */
  ensureTopics(topics: readonly string[]): Promise<ReadonlyMap<string, TopicState>>;
  /**
   * Resolves once the brokers acknowledged every record (acks=all). Rejects with a RelayError:
   * KAFKA_TOO_LARGE, KAFKA_RECORD_REFUSED or KAFKA_TOPIC_REFUSED when retrying cannot help a
   * record or its topic; non-retriable when the cluster refuses the relay itself. Resolves with
   * the partitions the records went to.
   */
  send(records: readonly KafkaRecord[]): Promise<readonly Placement[]>;
  /** Topics whose partition count differs from when they were first used. */
  changedPartitionCounts(): Promise<PartitionChange[]>;
  /**
   * Transactional sinks only: replaces the producer by a new one under `transactionalId` and
   * registers it with the coordinator (InitProducerId), which bumps the id's epoch: any earlier
   * producer with this id, a frozen zombie included, is fenced (its open transaction is aborted
   * and it can commit nothing more), so that what is read afterwards is final. Every call does
   * this again; a producer that was registered once does not re-register by itself.
   */
  fence(transactionalId: string): Promise<void>;
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
  if (options.client === 'platformatic' && options.transactional)
    // The settings refuse this combination at load; this guards the library's other callers.
    throw new RelayError(
      'CONFIG_INVALID',
      'RELAY_KAFKA_CLIENT=platformatic does not support RELAY_DELIVERY=exactly-once',
      { hint: 'Set RELAY_KAFKA_CLIENT=kafkajs, or RELAY_DELIVERY=at-least-once.' },
    );
  return new KafkajsSink(options);
}

class KafkajsSink implements KafkaSink {
  private readonly kafka: Kafka;
  private readonly options: KafkaSinkOptions;
  private producer: Producer;
  /** The events' producer when RELAY_KAFKA_CLIENT is not kafkajs (then `producer` stays idle). */
  private events: EventProducer | undefined;
  private aside: Promise<Producer> | undefined;
  private admin: Admin | undefined;
  /** Topics in use, with their partition count when first used. */
  private readonly knownTopics = new Map<string, number>();
  /** max.message.bytes of known topics (null: unreadable); dropped when Kafka says too large. */
  private readonly limits = new Map<string, number | null>();
  /** Known topics Kafka stopped knowing (deleted): creating one again is worth a warning. */
  private readonly forgotten = new Set<string>();
  private needsReset = false;
  /** Exactly-once: the id the producer was last fenced under. */
  private transactionalId: string | undefined;

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
    this.events = this.newEventProducer();
    if (this.events)
      log.info(
        { client: options.client },
        'events are produced with @platformatic/kafka (RELAY_KAFKA_CLIENT, experimental)',
      );
  }

  private newEventProducer(): EventProducer | undefined {
    const { client, brokers, clientId, security } = this.options;
    return client === 'platformatic'
      ? createPlatformaticProducer({ brokers, clientId, ...(security ? { security } : {}) })
      : undefined;
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      ...(this.transactionalId ? { transactionalId: this.transactionalId } : {}),
    });
  }

  async fence(transactionalId: string): Promise<void> {
    if (!this.options.transactional) return;
    // kafkajs sends InitProducerId only in a producer's first transaction(): a new producer
    // every time, so that every fence is a real one.
    await this.producer.disconnect().catch(() => undefined);
    this.transactionalId = transactionalId;
    this.producer = this.newProducer();
    this.needsReset = false;
    await this.connect();
    try {
      const transaction = await this.producer.transaction();
      await transaction.abort();
    } catch (error) {
      this.needsReset = true;
      throw kafkaError(
        `cannot register the transactional id "${transactionalId}"`,
        error,
        this.options,
      );
    }
  }

  async readLatest(topic: string, key: string): Promise<Buffer | null> {
    const admin = await this.adminClient();
    const offsets = await admin.fetchTopicOffsets(topic);
    if (offsets.every((p) => p.high === p.low)) return null;
    const firstOffsets = new Map(offsets.map((p) => [p.partition, p.low]));
    return withTimeout(
      readLatestCommitted(this.kafka, topic, key, firstOffsets),
      60_000,
      `reading the checkpoint topic "${topic}" took over 60 s`,
    );
  }

  async connect(): Promise<void> {
    try {
      await (this.events ?? this.producer).connect();
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
      this.events?.disconnect(),
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
    await this.events?.disconnect().catch(() => undefined);
    this.producer = this.newProducer();
    this.events = this.newEventProducer();
    await this.connect();
    this.needsReset = false;
  }

  async ensureTopics(topics: readonly string[]): Promise<ReadonlyMap<string, TopicState>> {
    try {
      const unknown = topics.filter((t) => !this.knownTopics.has(t));
      const refused =
        unknown.length > 0 ? await this.createMissing(unknown) : new Map<string, string>();
      const unread = topics.filter((t) => this.knownTopics.has(t) && !this.limits.has(t));
      if (unread.length > 0) await this.readLimits(unread);
      return new Map(
        topics.map((topic): [string, TopicState] => {
          const refusal = refused.get(topic);
          if (refusal !== undefined) return [topic, { ok: false, refusal }];
          return [topic, { ok: true, maxMessageBytes: this.limits.get(topic) ?? null }];
        }),
      );
    } catch (error) {
      if (error instanceof RelayError) throw error;
      throw kafkaError('cannot create or inspect topics', error, this.options);
    }
  }

  /** Creates the topics that do not exist; returns what Kafka said for those it refused. */
  private async createMissing(unknown: string[]): Promise<Map<string, string>> {
    const admin = await this.adminClient();
    const existing = await admin.listTopics();
    const present = new Set(existing);
    const create = unknown.filter((t) => !present.has(t));
    const refused = new Map<string, string>();
    if (create.length > 0) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: create.map((topic) => ({
            topic,
            numPartitions: this.options.partitions,
            replicationFactor: this.options.replicationFactor,
          })),
        });
      } catch (error) {
        for (const [topic, refusal] of this.creationRefusals(error, existing)) {
          refused.set(topic, refusal);
        }
      }
      this.logCreated(create.filter((t) => !refused.has(t)));
    }
    const ready = unknown.filter((t) => !refused.has(t));
    const counts = await this.partitionCounts(ready);
    for (const topic of ready) {
      this.knownTopics.set(topic, counts.get(topic) ?? 0);
      this.forgotten.delete(topic);
    }
    return refused;
  }

  /**
   * Per-topic answers of a failed creation: a topic refused for good is returned with the
   * broker's reason; anything else (a retriable error, a refusal of the relay itself) throws.
   */
  private creationRefusals(error: unknown, existing: string[]): Map<string, string> {
    const perTopic = classifyPerTopic(error);
    if (perTopic.size === 0) throw kafkaError('cannot create topics', error, this.options);
    const refused = new Map<string, string>();
    for (const [topic, { kind, type, message }] of perTopic) {
      if (type === 'TOPIC_ALREADY_EXISTS') continue; // created meanwhile, by another relay
      if (kind !== 'refused')
        throw kafkaError(`cannot create topic "${topic}"`, error, this.options);
      const collides = type === 'INVALID_TOPIC_EXCEPTION' ? collidingTopic(topic, existing) : null;
      refused.set(
        topic,
        `Kafka refused to create the topic "${topic}": ${type}: ${message}` +
          (collides
            ? `; it collides with the existing topic "${collides}" (Kafka forbids topic names that differ only by '.' and '_')`
            : ''),
      );
    }
    return refused;
  }

  private logCreated(created: string[]): void {
    if (created.length === 0) return;
    const { partitions } = this.options;
    this.options.logger.info({ topics: created, partitions }, 'created topics');
    for (const topic of created.filter((t) => this.forgotten.has(t))) {
      this.options.logger.warn(
        { topic, partitions },
        'topic was deleted and is created again: per-key ordering restarts on the new topic (consumers must read it from the beginning)',
      );
    }
  }

  /**
   * Each topic's max.message.bytes (the broker's message.max.bytes unless the topic overrides
   * it), once per topic. Without the DescribeConfigs permission the limit stays unknown and a
   * record is only found too large when Kafka refuses it.
   */
  private async readLimits(topics: string[]): Promise<void> {
    const admin = await this.adminClient();
    let resources: {
      resourceName: string;
      errorCode: number;
      configEntries: { configName: string; configValue: string }[];
    }[];
    try {
      ({ resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({
          type: TOPIC_RESOURCE,
          name,
          configNames: [MAX_MESSAGE_BYTES],
        })),
      }));
    } catch (error) {
      if (classifyKafkaError(error).kind === 'retriable') throw error;
      resources = topics.map((resourceName) => ({
        resourceName,
        errorCode: -1,
        configEntries: [],
      }));
    }
    for (const { resourceName, errorCode, configEntries } of resources) {
      const entry = configEntries.find((e) => e.configName === MAX_MESSAGE_BYTES);
      const limit = errorCode === 0 && entry ? Number(entry.configValue) : NaN;
      if (!(limit > 0)) {
        this.options.logger.warn(
          { topic: resourceName },
          `cannot read the topic's ${MAX_MESSAGE_BYTES} (grant DescribeConfigs on it): records too large for it are found only when Kafka refuses them`,
        );
      }
      this.limits.set(resourceName, limit > 0 ? limit : null);
    }
  }

  /** The topics of a request Kafka no longer knows: read their metadata and limits again. */
  private forget(topics: Iterable<string>): void {
    for (const topic of topics) {
      if (this.knownTopics.delete(topic)) this.forgotten.add(topic);
      this.limits.delete(topic);
    }
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

  async send(records: readonly KafkaRecord[]): Promise<readonly Placement[]> {
    try {
      if (this.needsReset) await this.reset();
      if (this.options.transactional) return placements(await this.sendInTransaction(records));
      if (this.events) return await this.events.send(records);
      return placements(
        await this.producer.sendBatch({ acks: -1, topicMessages: groupByTopic(records) }),
      );
    } catch (error) {
      this.needsReset = true;
      throw this.sendFailure(error, new Set(records.map((r) => r.topic)));
    }
  }

  private sendFailure(error: unknown, topics: Set<string>): RelayError {
    const failure = classifyKafkaError(error);
    const said = `${failure.type}: ${failure.message}`;
    switch (failure.kind) {
      case 'too-large':
        for (const topic of topics) this.limits.delete(topic); // the limit may have changed
        return new RelayError('KAFKA_TOO_LARGE', `Kafka refused a batch as too large (${said})`, {
          cause: error,
          hint: "A record is larger than the broker's message.max.bytes or the topic's max.message.bytes.",
        });
      case 'refused':
        return new RelayError(
          failure.scope === 'record' ? 'KAFKA_RECORD_REFUSED' : 'KAFKA_TOPIC_REFUSED',
          `Kafka refused the ${failure.scope === 'record' ? 'record' : 'topic'} (${said})`,
          { cause: error },
        );
      case 'stale-metadata':
        // A deleted topic stays in the client's metadata until it is refreshed, and our own
        // "already created" memory would never create it again: the next attempt uses a fresh
        // producer and looks the topics up (and creates them) again.
        this.forget(topics);
        return new RelayError(
          'KAFKA_PUBLISH',
          `Kafka does not know a topic of the batch (${said})`,
          {
            cause: error,
            retriable: true,
            hint: 'The topic was deleted or its leader moved: its metadata is read again, and a deleted topic is created again with RELAY_TOPIC_PARTITIONS partitions.',
          },
        );
      default:
        return kafkaError('Kafka did not acknowledge a batch', error, this.options);
    }
  }

  private async sendInTransaction(records: readonly KafkaRecord[]): Promise<RecordMetadata[]> {
    if (!this.transactionalId)
      throw new RelayError('KAFKA_PUBLISH', 'exactly-once: a send before the producer was fenced');
    const transaction = await this.producer.transaction();
    try {
      const written = await transaction.sendBatch({
        acks: -1,
        topicMessages: groupByTopic(records),
      });
      await transaction.commit();
      return written;
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

function placements(written: readonly RecordMetadata[]): Placement[] {
  return written.map((m) => ({ topic: m.topicName, partition: m.partition }));
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

const MAX_MESSAGE_BYTES = 'max.message.bytes';
/** kafkajs' ConfigResourceTypes.TOPIC: its CommonJS exports hide that enum from ESM imports. */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/**
 * A failure for the operator. Refusals of the relay itself (a failed login, a certificate that
 * does not verify, no authorization on the cluster) are not retriable: the top of the program
 * stops with the hint, which names the setting.
 */
function kafkaError(what: string, error: unknown, options: KafkaSinkOptions): RelayError {
  const message = errorMessage(error);
  const explained = explainKafkaFailure(error, options.brokers, options.security);
  const failure = classifyKafkaError(error);
  if (explained.retriable && failure.kind === 'fatal' && failure.hint) {
    return new RelayError('KAFKA_PUBLISH', `${what}: ${failure.type}: ${message}`, {
      cause: error,
      retriable: false,
      hint: failure.hint,
    });
  }
  const { hint, retriable } = explained;
  return new RelayError('KAFKA_PUBLISH', `${what}: ${message}`, { cause: error, retriable, hint });
}

/**
 * Reads a topic to its end with read_committed isolation and returns the last value of `key`,
 * without a consumer group: a group would cost a join (the broker's
 * group.initial.rebalance.delay.ms, 3 s by default) at every start and takeover, and leave a
 * throwaway group behind each time. Each partition is fetched from its first offset up to its
 * last stable offset (past which read_committed shows nothing yet), through the kafkajs cluster
 * the consumer itself uses, with its own filter of aborted records and transaction markers.
 */
async function readLatestCommitted(
  kafka: Kafka,
  topic: string,
  key: string,
  firstOffsets: ReadonlyMap<number, string>,
): Promise<Buffer | null> {
  const cluster = kafkajsCluster(kafka);
  await cluster.connect();
  try {
    await cluster.addTargetTopic(topic);
    let latest: Buffer | null = null;
    for (const { partitionId, leader } of cluster.findTopicPartitionMetadata(topic)) {
      let offset = BigInt(firstOffsets.get(partitionId) ?? '0');
      for (;;) {
        const broker = await cluster.findBroker({ nodeId: leader });
        const { responses } = await broker.fetch({
          isolationLevel: READ_COMMITTED,
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: 16 * 1024 * 1024,
          topics: [
            {
              topic,
              partitions: [
                { partition: partitionId, fetchOffset: String(offset), maxBytes: 4 * 1024 * 1024 },
              ],
            },
          ],
        });
        const data = responses[0]?.partitions[0];
        if (!data || offset >= BigInt(data.lastStableOffset)) break;
        const batch = new KafkajsBatch(topic, String(offset), data);
        for (const message of batch.messages)
          if (message.key?.toString() === key)
            latest = message.value ? Buffer.from(message.value) : null;
        const next = BigInt(batch.lastOffset()) + 1n;
        if (next <= offset)
          throw new RelayError(
            'KAFKA_CONNECT',
            `reading "${topic}" partition ${partitionId} made no progress at offset ${offset}`,
            { retriable: true },
          );
        offset = next;
      }
    }
    return latest;
  } finally {
    await cluster.disconnect();
  }
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
