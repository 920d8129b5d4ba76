/**
 * What a Kafka error means for the relay, from the error alone (pure; no client import). Kafka
 * names its errors (`INVALID_TOPIC_EXCEPTION`, ...); kafkajs puts that name in `type` and wraps
 * the error, sometimes twice (retries exceeded, non-retriable, aggregate of per-topic errors).
 *
 * - `too-large` and `refused`: tied to one record or one topic, and retrying cannot fix them.
 *   That record (or every record for that topic) becomes a dead letter; the stream goes on.
 * - `stale-metadata`: the topic or its leader is not where the client thinks (a deleted topic,
 *   a moved leader): refresh metadata, create the topic again if it is gone, and retry.
 * - `fatal`: the cluster refuses the relay itself (authorization on the cluster, SASL, a broker
 *   too old): retrying cannot help and dead-lettering would empty the stream into the dead-letter
 *   topic, so the relay stops and the hint names the setting to check.
 * - `retriable`: everything else (outages, elections, timeouts); retried with backoff.
 */
import { findInChain } from '../domain/errors.ts';

export type KafkaErrorKind = 'too-large' | 'refused' | 'stale-metadata' | 'fatal' | 'retriable';

export interface KafkaErrorClass {
  readonly kind: KafkaErrorKind;
  /** Whether a `refused` error is about the record itself or about its whole topic. */
  readonly scope: 'record' | 'topic' | 'cluster';
  /** Kafka's name for the error (`INVALID_TOPIC_EXCEPTION`), else the client's error name. */
  readonly type: string;
  /** What the broker's error means, as the client words it. */
  readonly message: string;
  /** The topic, when the error names one (topic creation does). */
  readonly topic: string | null;
  /** For `fatal`: what to check, naming the setting. */
  readonly hint: string | null;
}

const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/** Refused for this one record: its bytes, its timestamp. */
const RECORD_REFUSED = new Set(['INVALID_RECORD', 'INVALID_TIMESTAMP']);

/** Refused for this one topic: its name, its permissions, a creation policy, its format. */
const TOPIC_REFUSED = new Set([
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'POLICY_VIOLATION',
  'INVALID_CONFIG',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
]);

/** kafkajs' name for NOT_LEADER_OR_FOLLOWER is NOT_LEADER_FOR_PARTITION. */
const STALE_METADATA = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'REPLICA_NOT_AVAILABLE',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'KafkaJSMetadataNotLoaded',
]);

const SASL_HINT =
  'The brokers refused the SASL login: check RELAY_KAFKA_SASL_USERNAME, RELAY_KAFKA_SASL_PASSWORD (or its _FILE) and RELAY_KAFKA_SASL_MECHANISM, which the listener must enable.';
const PRINCIPAL =
  "the relay's principal (RELAY_KAFKA_SASL_USERNAME, or the certificate in RELAY_KAFKA_TLS_CERT_FILE)";

/** Refusals of the relay as a whole, with what to check. */
const FATAL: Readonly<Record<string, string>> = {
  CLUSTER_AUTHORIZATION_FAILED: `The cluster refused an operation on the cluster itself: grant ${PRINCIPAL} IdempotentWrite (Kafka before 3.0) and Create, or DescribeConfigs, on the cluster, or pre-create the topics.`,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: `The cluster refused the transactional id: grant ${PRINCIPAL} Write and Describe on the transactional id RELAY_KAFKA_TRANSACTIONAL_ID (default outbox-relay.<slot>), or use RELAY_DELIVERY=at-least-once.`,
  GROUP_AUTHORIZATION_FAILED: `The cluster refused the checkpoint reader's consumer group: grant ${PRINCIPAL} Read on groups prefixed outbox-relay-checkpoint-reader- (RELAY_DELIVERY=exactly-once).`,
  SASL_AUTHENTICATION_FAILED: SASL_HINT,
  ILLEGAL_SASL_STATE: SASL_HINT,
  UNSUPPORTED_SASL_MECHANISM: SASL_HINT,
  KafkaJSSASLAuthenticationError: SASL_HINT,
  SECURITY_DISABLED:
    'The listener has no security enabled: set RELAY_KAFKA_SASL_MECHANISM=none, or point RELAY_KAFKA_BROKERS at a SASL listener.',
  UNSUPPORTED_VERSION:
    'The brokers do not support a request the relay needs: check that RELAY_KAFKA_BROKERS points at Kafka 2.x or later.',
  INVALID_REQUIRED_ACKS:
    'The brokers refused acks=all, which the relay needs to lose nothing: check the brokers in RELAY_KAFKA_BROKERS.',
  UNSUPPORTED_COMPRESSION_TYPE:
    'The brokers refused the compression codec: check the brokers in RELAY_KAFKA_BROKERS.',
  INVALID_PARTITIONS:
    'The brokers refused the partition count of new topics: check RELAY_TOPIC_PARTITIONS.',
  INVALID_TRANSACTION_TIMEOUT:
    "The brokers refused the transaction timeout: raise the brokers' transaction.max.timeout.ms, or use RELAY_DELIVERY=at-least-once.",
};

interface TypedError extends Error {
  type?: unknown;
  topic?: unknown;
}

/** The first error in the chain that carries Kafka's error name, else the outermost one. */
function namedError(error: unknown): { type: string; error: TypedError } | undefined {
  const typed = findInChain(error, (e: TypedError) =>
    typeof e.type === 'string' && e.type !== '' ? { type: e.type, error: e } : undefined,
  );
  if (typed) return typed;
  const known = findInChain(error, (e) =>
    e.name in FATAL || STALE_METADATA.has(e.name) ? { type: e.name, error: e } : undefined,
  );
  if (known) return known;
  return error instanceof Error ? { type: error.name, error } : undefined;
}

function kindOf(type: string): { kind: KafkaErrorKind; scope: KafkaErrorClass['scope'] } {
  if (TOO_LARGE.has(type)) return { kind: 'too-large', scope: 'record' };
  if (RECORD_REFUSED.has(type)) return { kind: 'refused', scope: 'record' };
  if (TOPIC_REFUSED.has(type)) return { kind: 'refused', scope: 'topic' };
  if (STALE_METADATA.has(type)) return { kind: 'stale-metadata', scope: 'topic' };
  if (type in FATAL) return { kind: 'fatal', scope: 'cluster' };
  return { kind: 'retriable', scope: 'cluster' };
}

export function classifyKafkaError(error: unknown): KafkaErrorClass {
  const named = namedError(error);
  const type = named?.type ?? 'UNKNOWN';
  const { kind, scope } = kindOf(type);
  const topic = named && typeof named.error.topic === 'string' ? named.error.topic : null;
  return {
    kind,
    scope,
    type,
    message: named?.error.message ?? String(error),
    topic,
    hint: FATAL[type] ?? null,
  };
}

/**
 * Topic creation answers per topic: kafkajs throws one aggregate with an error per topic that
 * failed (the others were created). Each, classified, by topic.
 */
export function classifyPerTopic(error: unknown): Map<string, KafkaErrorClass> {
  const byTopic = new Map<string, KafkaErrorClass>();
  const visit = (e: unknown, depth: number): void => {
    if (!(e instanceof Error) || depth > 5) return;
    const { topic, errors, originalError } = e as TypedError & {
      errors?: unknown[];
      originalError?: unknown;
    };
    if (typeof topic === 'string') byTopic.set(topic, classifyKafkaError(e));
    for (const inner of [e.cause, originalError, ...(errors ?? [])]) visit(inner, depth + 1);
  };
  visit(error, 0);
  return byTopic;
}

/**
 * Kafka refuses a topic whose name differs from an existing one only by `.` versus `_` (they
 * would collide in metric names), with INVALID_TOPIC_EXCEPTION. The existing topic it collides
 * with, if any: the broker says so, but kafkajs drops the broker's message.
 */
export function collidingTopic(topic: string, existing: Iterable<string>): string | null {
  const folded = topic.replaceAll('.', '_');
  for (const other of existing) {
    if (other !== topic && other.replaceAll('.', '_') === folded) return other;
  }
  return null;
}
