/** The benchmark's own Kafka clients: topic setup and an independent consumer that timestamps. */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin } from 'kafkajs';

function client(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'outbox-relay-bench', brokers, logLevel: logLevel.NOTHING });
}

async function withAdmin<T>(brokers: string[], use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates the topics as the relay would (same partition count), so that topic creation, a
 * one-off cost, is not inside any measurement.
 */
export function createTopics(brokers: string[], topics: string[], partitions: number) {
  return withAdmin(brokers, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, numPartitions: partitions })),
    }),
  );
}

export function deleteTopics(brokers: string[], topics: string[]): Promise<void> {
  return withAdmin(brokers, (admin) => admin.deleteTopics({ topics, timeout: 10_000 }));
}

export interface TimingConsumer {
  /** performance.now() when each event id (record header event_id) first arrived. */
  readonly receivedAt: Map<string, number>;
  /** Each record's timestamp (CreateTime: set by the relay's producer), as performance.now(). */
  readonly createdAt: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * A consumer in a group of its own, reading from the beginning, that notes when each record
 * reaches it. Resolves once the group is joined, so nothing written afterwards can be missed.
 */
export async function startTimingConsumer(
  brokers: string[],
  topics: string[],
): Promise<TimingConsumer> {
  const consumer = client(brokers).consumer({
    groupId: `bench-${randomUUID()}`,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  const receivedAt = new Map<string, number>();
  const createdAt = new Map<string, number>();
  const joined = new Promise<void>((resolve) =>
    consumer.on(consumer.events.GROUP_JOIN, () => resolve()),
  );
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    // kafkajs commits offsets after every batch by default, one partition's batch at a time:
    // with 18 partitions that alone added ~120 ms to the median. A throwaway group needs none.
    autoCommit: false,
    eachBatch: ({ batch }) => {
      const now = performance.now();
      for (const message of batch.messages) {
        const id = message.headers?.event_id?.toString();
        if (!id || receivedAt.has(id)) continue;
        receivedAt.set(id, now);
        createdAt.set(id, Number(message.timestamp) - performance.timeOrigin);
      }
      return Promise.resolve();
    },
  });
  await joined;
  return { receivedAt, createdAt, stop: () => consumer.disconnect() };
}
