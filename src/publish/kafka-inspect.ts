/**
 * The admin side of the Kafka adapter: read-only questions for `outbox-relay doctor` (can the
 * brokers be reached, which topics exist and with how many partitions). It is the one exception
 * to "only src/publish/kafka.ts imports kafkajs", kept apart so that it can be folded into
 * kafka.ts as two KafkaSink methods (`ping`, `describeTopics`). It never creates or changes
 * anything on the brokers.
 */
import type { Socket } from 'node:net';
import {
  Kafka,
  logLevel as KafkaLogLevel,
  type Admin,
  type ISocketFactory,
  type LogEntry,
} from 'kafkajs';
import { errorMessage, RelayError } from '../domain/errors.ts';
import type { Logger } from '../ops/logger.ts';
import { explainKafkaFailure, openSocket, type KafkaSecurity } from './kafka-security.ts';

export interface KafkaInspectorOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** Bound on connecting and on each request: a doctor answers quickly or says it cannot. */
  timeoutMs: number;
  /** TLS and SASL, as kafkaSecurity() makes them from the settings. */
  security?: KafkaSecurity;
}

export interface ClusterInfo {
  readonly brokers: number;
  readonly controller: number | null;
  readonly clusterId: string;
}

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: number;
}

export interface KafkaInspector {
  /** Connects and describes the cluster within the timeout, else throws KAFKA_CONNECT. */
  ping(): Promise<ClusterInfo>;
  /** The existing topics `include` accepts, with their partition counts, sorted by name. */
  describeTopics(include: (topic: string) => boolean): Promise<TopicPartitions[]>;
  disconnect(): Promise<void>;
}

export function createKafkaInspector(options: KafkaInspectorOptions): KafkaInspector {
  const log = options.logger.child({ stage: 'kafka-admin' });
  const sockets = new SocketTracker();
  // Each attempt gets half the time, so that a second broker is tried before the deadline.
  const attemptMs = Math.ceil(options.timeoutMs / 2);
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ...options.security,
    socketFactory: sockets.factory,
    connectionTimeout: attemptMs,
    requestTimeout: attemptMs,
    // What fails here becomes the doctor's finding; kafkajs' own account of it is for debugging.
    logLevel: KafkaLogLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log;
      log.debug(extra, message);
    },
    // kafkajs moves to the next seed broker on each retry.
    retry: { retries: options.brokers.length, initialRetryTime: 100, maxRetryTime: 500 },
  });
  return new KafkajsInspector(kafka.admin(), sockets, options);
}

/**
 * kafkajs' own socket factory, remembering each socket. A broker that accepts connections and
 * never answers leaves kafkajs retrying on sockets that admin.disconnect() does not close, which
 * would keep a one-shot command from exiting; close() ends them, and any later attempt at once.
 */
class SocketTracker {
  private readonly open = new Set<Socket>();
  private closed = false;

  readonly factory: ISocketFactory = (args) => {
    const socket = openSocket(args);
    if (this.closed) return socket.destroy(new Error('the Kafka inspector is closed'));
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    return socket;
  };

  close(): void {
    this.closed = true;
    for (const socket of this.open) socket.destroy();
  }
}

class KafkajsInspector implements KafkaInspector {
  private readonly admin: Admin;
  private readonly sockets: SocketTracker;
  private readonly options: KafkaInspectorOptions;
  private connected: Promise<void> | undefined;

  constructor(admin: Admin, sockets: SocketTracker, options: KafkaInspectorOptions) {
    this.admin = admin;
    this.sockets = sockets;
    this.options = options;
  }

  async ping(): Promise<ClusterInfo> {
    try {
      const cluster = await withTimeout(this.describeCluster(), this.options.timeoutMs);
      return {
        brokers: cluster.brokers.length,
        controller: cluster.controller,
        clusterId: cluster.clusterId,
      };
    } catch (error) {
      throw unreachable(error, this.options);
    }
  }

  async describeTopics(include: (topic: string) => boolean): Promise<TopicPartitions[]> {
    await this.connect();
    const topics = (await this.admin.listTopics()).filter(include).sort();
    // An empty list would ask kafkajs for the metadata of every topic.
    if (topics.length === 0) return [];
    const metadata = await this.admin.fetchTopicMetadata({ topics });
    return metadata.topics
      .map((t) => ({ topic: t.name, partitions: t.partitions.length }))
      .sort((a, b) => a.topic.localeCompare(b.topic));
  }

  async disconnect(): Promise<void> {
    await withTimeout(this.admin.disconnect(), this.options.timeoutMs).catch(() => undefined);
    this.sockets.close();
  }

  private async describeCluster() {
    await this.connect();
    return this.admin.describeCluster();
  }

  private connect(): Promise<void> {
    this.connected ??= this.admin.connect();
    return this.connected;
  }
}

function unreachable(error: unknown, options: KafkaInspectorOptions): RelayError {
  const { brokers, timeoutMs, security } = options;
  const message = errorMessage(error);
  const failure = explainKafkaFailure(error, brokers, security);
  const hint = failure.retriable
    ? `${failure.hint} They must answer from here within ${timeoutMs} ms (firewall, advertised.listeners).`
    : failure.hint;
  return new RelayError('KAFKA_CONNECT', `cannot reach Kafka at ${brokers.join(',')}: ${message}`, {
    cause: error,
    retriable: failure.retriable,
    hint,
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
