import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RelayError } from '../../../src/domain/errors.ts';
import { createKafkaSink } from '../../../src/publish/kafka.ts';
import { classifyKafkaError } from '../../../src/publish/kafka-errors.ts';
import { javaPartitioner, kafkaNamed } from '../../../src/publish/kafka-platformatic.ts';
import { createLogger } from '../../../src/ops/logger.ts';
import { javaPartitionsByCount } from '../../support/java-murmur2.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { AuthenticationError, MultipleErrors, ProtocolError, UserError } from '@platformatic/kafka';

const PARTITION_COUNTS = [1, 3, 6, 12];

/** Ids as the outbox holds them, and text in several scripts and widths of UTF-8. */
const KEYS = [
  ...Array.from({ length: 150 }, (_, i) => (i % 2 ? `ord-${i}` : `${i * 7919}`)),
  'é',
  'Ωμέγα',
  '注文-42',
  '😀',
  '𝄞-clef',
  'x'.repeat(1000),
  ' ',
  '\u0000nul',
];

it("RELAY_KAFKA_CLIENT=platformatic places every key on the partition Kafka's Java producer picks", async () => {
  const java = await javaPartitionsByCount(KEYS, PARTITION_COUNTS);
  for (const count of PARTITION_COUNTS) {
    // The library takes the partitioner's number modulo the partition count.
    const mismatches = KEYS.filter((key) => {
      const bytes = Buffer.from(key);
      const ours = javaPartitioner({ topic: 't', key }, bytes) % count;
      return ours !== java.get(count)?.get(key);
    });
    assert.deepEqual(mismatches, [], `${count} partitions`);
  }
});

it('records without a key go round the partitions, not all to one', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 6; i++) seen.add(javaPartitioner({ topic: 't', key: null }) % 6);
  assert.equal(seen.size, 6);
});

it("the library's Kafka error names reach kafka-errors.ts as kafkajs' did", () => {
  const tooLarge = new MultipleErrors('produce failed 1 times.', [
    new ProtocolError('MESSAGE_TOO_LARGE'),
  ]);
  assert.equal(classifyKafkaError(kafkaNamed(tooLarge)).kind, 'too-large');
  const invalid = new ProtocolError('INVALID_TOPIC_EXCEPTION', 'collides');
  assert.deepEqual(
    [classifyKafkaError(kafkaNamed(invalid)).kind, classifyKafkaError(kafkaNamed(invalid)).scope],
    ['refused', 'topic'],
  );
  const unknown = new ProtocolError('UNKNOWN_TOPIC_OR_PARTITION');
  assert.equal(classifyKafkaError(kafkaNamed(unknown)).kind, 'stale-metadata');
  const deleted = new UserError('Unknown topic t.orders.');
  assert.equal(classifyKafkaError(kafkaNamed(deleted)).kind, 'stale-metadata');
  const sasl = new AuthenticationError('SASL authentication failed.');
  assert.equal(classifyKafkaError(kafkaNamed(sasl)).kind, 'fatal');
  const plain = new Error('socket hang up');
  assert.equal(kafkaNamed(plain), plain);
});

const BASE = {
  RELAY_PG_URL: 'postgres://relay@localhost/app',
  RELAY_KAFKA_BROKERS: 'localhost:9092',
};

it('RELAY_KAFKA_CLIENT=platformatic with RELAY_DELIVERY=exactly-once is refused at load, naming both', () => {
  assert.throws(
    () =>
      loadConfig({
        env: { ...BASE, RELAY_KAFKA_CLIENT: 'platformatic', RELAY_DELIVERY: 'exactly-once' },
      }),
    (error: unknown) =>
      error instanceof RelayError &&
      error.code === 'CONFIG_INVALID' &&
      /RELAY_KAFKA_CLIENT/.test(error.message) &&
      /RELAY_DELIVERY/.test(error.message),
  );
  assert.equal(loadConfig({ env: BASE }).config.kafkaClient, 'kafkajs');
  assert.throws(() => loadConfig({ env: { ...BASE, RELAY_KAFKA_CLIENT: 'rdkafka' } }));
});

it('a transactional sink on platformatic is refused when built', () => {
  assert.throws(
    () =>
      createKafkaSink({
        brokers: ['localhost:9092'],
        clientId: 't',
        partitions: 6,
        replicationFactor: 1,
        logger: createLogger('silent'),
        transactional: true,
        client: 'platformatic',
      }),
    (error: unknown) => error instanceof RelayError && error.code === 'CONFIG_INVALID',
  );
});
