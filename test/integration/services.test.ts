import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, test } from 'node:test';
import { Kafka, logLevel, Partitioners, type KafkaMessage } from 'kafkajs';
import pg from 'pg';
import { attachServices } from '../../scripts/services/index.ts';

const services = await attachServices();
after(() => services.close());

const kafka = new Kafka({
  clientId: 'services-test',
  brokers: services.kafkaBrokers,
  logLevel: logLevel.WARN,
});

function uniqueName(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

async function query<Row extends pg.QueryResultRow>(sql: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: services.pgUrl });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function createTopic(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

async function produce(topic: string, key: string, value: string): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key, value }] });
  } finally {
    await producer.disconnect();
  }
}

/** The first record of the topic, read by a new consumer group from the beginning. */
async function readFirst(topic: string, timeoutMs = 20_000): Promise<KafkaMessage> {
  const consumer = kafka.consumer({ groupId: uniqueName('services-test') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<KafkaMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no record on ${topic}`)), timeoutMs);
      consumer
        .run({
          eachMessage: ({ message }) => {
            clearTimeout(timer);
            resolve(message);
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

function acceptsConnections(address: string): Promise<boolean> {
  const { hostname, port } = new URL(`tcp://${address}`);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

void test('Postgres runs with wal_level=logical and track_commit_timestamp=on, and can create a pgoutput slot', async () => {
  const [setting] = await query<{ wal_level: string }>('show wal_level');
  assert.equal(setting?.wal_level, 'logical');
  // replay's commit order (test/integration/replay.test.ts) needs commit timestamps.
  const [commitTimes] = await query<{ track_commit_timestamp: string }>(
    'show track_commit_timestamp',
  );
  assert.equal(commitTimes?.track_commit_timestamp, 'on');
  const slot = uniqueName('services_test');
  await query(`select pg_create_logical_replication_slot('${slot}', 'pgoutput')`);
  await query(`select pg_drop_replication_slot('${slot}')`);
});

void test('a record sent to a topic the test created can be read back by a consumer', async () => {
  const topic = uniqueName('services-test');
  await createTopic(topic);
  await produce(topic, 'key-1', 'hello');
  const message = await readFirst(topic);
  assert.equal(message.key?.toString(), 'key-1');
  assert.equal(message.value?.toString(), 'hello');
});

void test(
  'Kafka stopped and started comes back on the same port with its records',
  {
    skip: services.kind === 'env' && 'the RELAY_TEST_* servers belong to someone else',
    timeout: 60_000,
  },
  async () => {
    const topic = uniqueName('services-restart');
    await createTopic(topic);
    await produce(topic, 'key-2', 'survives a restart');
    const [broker = ''] = services.kafkaBrokers;

    await services.kafka.stop();
    assert.equal(await acceptsConnections(broker), false, 'the broker still answers');
    await services.kafka.start();

    assert.equal(await acceptsConnections(broker), true);
    const message = await readFirst(topic);
    assert.equal(message.value?.toString(), 'survives a restart');
  },
);
