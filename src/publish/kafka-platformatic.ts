/**
 * The events' producer on @platformatic/kafka (RELAY_KAFKA_CLIENT=platformatic), for the hot
 * path only: a CPU profile of a drain put kafkajs at half the relay's time (a Buffer per record
 * and header, CRC-32C in JavaScript), and this client builds the same requests for about half
 * the CPU. The sink in kafka.ts keeps everything else (topic administration, the durable
 * position, checkpoint reads, exactly-once), so that its error handling and its tests apply
 * unchanged; this file only has to produce as kafkajs did and throw errors kafka-errors.ts
 * can classify.
 *
 * Same guarantees as the kafkajs producer: acks=all, idempotent, Java's murmur2 partitioning
 * (toPositive(murmur2(key)) % partitions: the library's `compatibilityPartitioner`; its default
 * one is not Java's), finite retries, and one send at a time from the publisher.
 */
import {
  compatibilityPartitioner,
  ProduceAcks,
  type MessageToProduce,
  Producer,
  type ProducerOptions,
  type SASLOptions,
} from '@platformatic/kafka';
import { findInChain } from '../domain/errors.ts';
import type { EventProducer, KafkaRecord, Placement } from './kafka.ts';
import type { KafkaSecurity, SaslMechanism } from './kafka-security.ts';

export interface PlatformaticProducerOptions {
  brokers: readonly string[];
  clientId: string;
  security?: KafkaSecurity;
}

type Key = string | Buffer | null;

const SASL: Readonly<Record<SaslMechanism, SASLOptions['mechanism']>> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/** As kafkajs' retry of the other producer: 5 retries, 200 ms doubling up to 5 s. */
const RETRIES = 5;
const retryDelay = (_client: unknown, _operation: string, attempt: number) =>
  Math.min(5_000, 200 * 2 ** (attempt - 1));

const toBuffer = (text?: string) => (text === undefined ? undefined : Buffer.from(text));

export function platformaticProducerOptions(
  options: PlatformaticProducerOptions,
): ProducerOptions<Key, Buffer, string, string> {
  const { ssl, sasl } = options.security ?? {};
  return {
    clientId: options.clientId,
    bootstrapBrokers: [...options.brokers],
    idempotent: true,
    acks: ProduceAcks.ALL,
    partitioner: javaPartitioner,
    autocreateTopics: false,
    retries: RETRIES,
    retryDelay,
    // kafkajs' request timeout; this library's default (5 s) is short for acks=all under load.
    timeout: 30_000,
    // Node sends no SNI for an IP address and the host name otherwise, as openSocket() does.
    ...(ssl ? { tls: ssl } : {}),
    ...(sasl
      ? {
          sasl: {
            mechanism: SASL[sasl.mechanism],
            username: sasl.username,
            password: sasl.password,
          },
        }
      : {}),
    serializers: {
      // The library wants Buffers for keys and header names and values (its default serializers
      // pass them through); the relay's are strings, and keys may already be Avro bytes.
      key: (key) => (key === null || key === undefined ? undefined : toBytes(key)),
      headerKey: toBuffer,
      headerValue: toBuffer,
    },
  };
}

function toBytes(key: string | Buffer): Buffer {
  return typeof key === 'string' ? Buffer.from(key) : key;
}

let roundRobin = 0;

/**
 * Java's placement for a key; a record without one goes round the partitions as kafkajs'
 * DefaultPartitioner sends it (the library's partitioner would put them all on partition 0).
 */
export function javaPartitioner(
  message: MessageToProduce<Key, Buffer, string, string>,
  key?: Buffer,
) {
  return key ? compatibilityPartitioner(message, key) : roundRobin++ & 0x7fffffff;
}

export function createPlatformaticProducer(options: PlatformaticProducerOptions): EventProducer {
  return new PlatformaticProducer(platformaticProducerOptions(options));
}

class PlatformaticProducer implements EventProducer {
  private readonly producer: Producer<Key, Buffer, string, string>;

  constructor(options: ProducerOptions<Key, Buffer, string, string>) {
    this.producer = new Producer(options);
  }

  /** Registers the idempotent producer (InitProducerId), which also proves the brokers answer. */
  async connect(): Promise<void> {
    try {
      await this.producer.initIdempotentProducer({});
    } catch (error) {
      throw kafkaNamed(error);
    }
  }

  async send(records: readonly KafkaRecord[]): Promise<readonly Placement[]> {
    try {
      const result = await this.producer.send({
        messages: records.map((r) => ({
          topic: r.topic,
          key: r.key,
          value: r.value,
          headers: r.headers,
        })),
      });
      return (result.offsets ?? []).map(({ topic, partition }) => ({ topic, partition }));
    } catch (error) {
      throw kafkaNamed(error);
    }
  }

  async disconnect(): Promise<void> {
    await this.producer.close();
  }
}

interface PlatformaticError extends Error {
  apiId?: unknown;
  serverErrorMessage?: unknown;
  code?: unknown;
}

/**
 * This library names Kafka's errors in `apiId` (kafkajs: `type`), and a failed login is its
 * AuthenticationError; kafka-errors.ts reads `type`. The original stays the cause, where
 * explainKafkaFailure() and certificateFailure() look for TLS and socket codes.
 */
export function kafkaNamed(error: unknown): unknown {
  const found = findInChain(error, (e: PlatformaticError) =>
    typeof e.apiId === 'string'
      ? {
          type: e.apiId,
          said: typeof e.serverErrorMessage === 'string' ? e.serverErrorMessage : '',
        }
      : e.code === 'PLT_KFK_AUTHENTICATION'
        ? { type: 'SASL_AUTHENTICATION_FAILED', said: e.message }
        : // Its metadata lookup turns UNKNOWN_TOPIC_OR_PARTITION into a UserError without a
          // cause (a deleted topic): only its message says so.
          e.code === 'PLT_KFK_USER' && e.message.startsWith('Unknown topic ')
          ? { type: 'UNKNOWN_TOPIC_OR_PARTITION', said: e.message }
          : undefined,
  );
  if (!found) return error;
  const message = error instanceof Error ? error.message : String(error);
  return Object.assign(
    new Error(`${found.type}${found.said ? `: ${found.said}` : ''} (${message})`, {
      cause: error,
    }),
    { type: found.type },
  );
}
