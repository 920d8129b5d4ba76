/**
 * The parts of kafkajs that its public API does not expose and the relay needs: the cluster
 * (metadata and brokers) that its consumer fetches through, and its read_committed filter of
 * aborted records and transaction markers. With them the checkpoint is read without a consumer
 * group. kafkajs is unmaintained (its last release is 2.2.4), so these do not move under us; a
 * version without them fails loudly at the first read, not silently.
 */
import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import { RelayError } from '../domain/errors.ts';

export const READ_COMMITTED = 1;

export interface FetchedPartition {
  readonly partition: number;
  readonly highWatermark: string;
  readonly lastStableOffset: string;
}

interface KafkajsBroker {
  fetch(request: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: {
      topic: string;
      partitions: { partition: number; fetchOffset: string; maxBytes: number }[];
    }[];
  }): Promise<{ responses: { topicName: string; partitions: FetchedPartition[] }[] }>;
}

export interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number; leader: number }[];
  findBroker(broker: { nodeId: number }): Promise<KafkajsBroker>;
}

interface BatchMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

type BatchConstructor = new (
  topic: string,
  fetchedOffset: string,
  partitionData: FetchedPartition,
) => { readonly messages: readonly BatchMessage[]; lastOffset(): string };

const require = createRequire(import.meta.url);

/** kafkajs' Batch: a fetch response's records without aborted ones and control records. */
export const KafkajsBatch = require('kafkajs/src/consumer/batch.js') as BatchConstructor;

/** A new cluster of this client's settings (brokers, TLS, SASL, socket factory). */
export function kafkajsCluster(kafka: Kafka): KafkajsCluster {
  const factory = Object.getOwnPropertySymbols(kafka).find(
    (symbol) => symbol.description === 'private:Kafka:createCluster',
  );
  const create = factory && (kafka as unknown as Record<symbol, unknown>)[factory];
  if (typeof create !== 'function')
    throw new RelayError(
      'KAFKA_CONNECT',
      'this kafkajs build has no cluster factory (private:Kafka:createCluster): the checkpoint cannot be read',
      { hint: 'Install the kafkajs version in package-lock.json (npm ci).' },
    );
  return (create as (options: object) => KafkajsCluster)({
    allowAutoTopicCreation: false,
    isolationLevel: READ_COMMITTED,
  });
}
