/**
 * The relay's Kafka clients over the harness broker's SASL_PLAINTEXT, SSL (mutual TLS) and
 * SASL_SSL listeners, configured only through the RELAY_KAFKA_* settings. What they publish is
 * read back over the plaintext listener by an independent consumer.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaSecurityInfo } from '../../scripts/services/index.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Finding } from '../../src/admin/doctor.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { createKafkaSink } from '../../src/publish/kafka.ts';
import { kafkaClientOptions } from '../../src/publish/kafka-security.ts';
import { planEvents, services, writeTransactions } from '../support/fixtures.ts';
import { relayEnv, runCli, startRelayInProcess, waitFor } from '../support/relay.ts';
import { readBack, scenario, type Scenario } from '../support/scenario.ts';

let security: KafkaSecurityInfo | undefined;
let plainBrokers: string[] = [];
let s: Scenario | undefined;

before(async () => {
  const svc = await services();
  security = svc.kafkaSecurity;
  plainBrokers = svc.kafkaBrokers;
  if (security) s = await scenario('kafka_sec');
});

after(async () => {
  await s?.cleanup();
});

/** The harness's local broker has the extra listeners; servers given by URL may not. */
function listeners(t: TestContext): { sec: KafkaSecurityInfo; s: Scenario } | null {
  if (security && s) return { sec: security, s };
  t.skip('the broker has no SASL/TLS listeners (RELAY_TEST_* servers or testcontainers)');
  return null;
}

function saslEnv(sec: KafkaSecurityInfo, mechanism: string, brokers: string[]) {
  return {
    RELAY_KAFKA_BROKERS: brokers.join(','),
    RELAY_KAFKA_SASL_MECHANISM: mechanism,
    RELAY_KAFKA_SASL_USERNAME: sec.username,
    RELAY_KAFKA_SASL_PASSWORD: sec.password,
  };
}

/** Publishes one record with a sink made from these settings, and reads it back. */
async function publishThrough(env: Record<string, string>): Promise<void> {
  const client = process.env.RELAY_KAFKA_CLIENT; // as relayEnv() threads it
  const { config } = loadConfig({
    env: {
      RELAY_PG_URL: 'postgres://unused/db',
      ...(client ? { RELAY_KAFKA_CLIENT: client } : {}),
      ...env,
    },
  });
  const sink = createKafkaSink({
    ...kafkaClientOptions(config),
    partitions: 1,
    replicationFactor: -1,
    logger: createLogger('silent'),
  });
  const topic = `t.kafka_sec.${randomUUID().slice(0, 8)}`;
  try {
    await sink.connect();
    await sink.ensureTopics([topic]);
    await sink.send([{ topic, key: 'k', value: Buffer.from('hello'), headers: {} }]);
  } finally {
    await sink.disconnect();
  }
  // Offsets read over the plaintext listener: cheaper than a consumer group, and as independent.
  const admin = new Kafka({ brokers: plainBrokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    assert.deepEqual(
      (await admin.fetchTopicOffsets(topic)).map((p) => p.high),
      ['1'],
    );
  } finally {
    await admin.disconnect();
  }
}

for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
  test(`publishes over SASL_PLAINTEXT with RELAY_KAFKA_SASL_MECHANISM=${mechanism}`, async (t) => {
    const found = listeners(t);
    if (!found) return;
    await publishThrough(saslEnv(found.sec, mechanism, found.sec.saslPlaintextBrokers));
  });
}

test('publishes over mutual TLS with a client certificate, verifying the broker against the CA file', async (t) => {
  const found = listeners(t);
  if (!found) return;
  await publishThrough({
    RELAY_KAFKA_BROKERS: found.sec.sslBrokers.join(','),
    RELAY_KAFKA_TLS: 'true',
    RELAY_KAFKA_TLS_CA_FILE: found.sec.caFile,
    RELAY_KAFKA_TLS_CERT_FILE: found.sec.clientCertFile,
    RELAY_KAFKA_TLS_KEY_FILE: found.sec.clientKeyFile,
  });
});

test('relays events end to end over SASL_SSL (SCRAM-SHA-512, CA verified)', async (t) => {
  const found = listeners(t);
  if (!found) return;
  const env = {
    ...found.s.env,
    ...saslEnv(found.sec, 'scram-sha-512', found.sec.saslSslBrokers),
    RELAY_KAFKA_TLS: 'true',
    RELAY_KAFKA_TLS_CA_FILE: found.sec.caFile,
  };
  const transactions = planEvents({ total: 50, aggregates: 5, sizes: [1, 7, 2] });
  const relay = startRelayInProcess(env);
  try {
    await writeTransactions(found.s.pool, found.s.names, transactions);
    await waitFor(() => relay.health.ready().ok, 20_000, 'the relay to stream');
    const count = await readBack(found.s, transactions.flat(), 30_000);
    assert.deepEqual(
      { lost: count.lost, duplicated: count.duplicated, reordered: count.reordered },
      { lost: 0, duplicated: 0, reordered: 0 },
    );
  } finally {
    await relay.stop();
  }
});

test('doctor passes its Kafka checks over SASL_SSL', async (t) => {
  const found = listeners(t);
  if (!found) return;
  const env = {
    ...found.s.env,
    ...saslEnv(found.sec, 'scram-sha-256', found.sec.saslSslBrokers),
    RELAY_KAFKA_TLS: 'true',
    RELAY_KAFKA_TLS_CA_FILE: found.sec.caFile,
  };
  const result = await runCli(['doctor', '--json'], env);
  const findings = JSON.parse(result.stdout) as Finding[];
  const kafka = findings.find((f) => f.name === 'kafka');
  assert.equal(kafka?.status, 'ok', result.stdout);
  assert.match(kafka.detail, new RegExp(found.sec.saslSslBrokers[0] ?? 'none'));
  assert.doesNotMatch(result.stdout + result.stderr, new RegExp(found.sec.password));
});

test('a wrong SASL password stops the relay at start, naming the settings, without printing it', async (t) => {
  const found = listeners(t);
  if (!found) return;
  const env = {
    ...found.s.env,
    ...saslEnv(found.sec, 'scram-sha-256', found.sec.saslPlaintextBrokers),
    RELAY_KAFKA_SASL_PASSWORD: 'wrong-password-123',
  };
  const result = await runCli(['run'], env, 30_000);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /authentication failed/i);
  assert.match(
    result.stderr,
    /what to do: The brokers refused the SASL login: check RELAY_KAFKA_SASL_USERNAME, RELAY_KAFKA_SASL_PASSWORD/,
  );
  assert.doesNotMatch(result.stdout + result.stderr, /wrong-password-123/);
});

test('a broker certificate from another CA fails the doctor, naming RELAY_KAFKA_TLS_CA_FILE', async (t) => {
  const found = listeners(t);
  if (!found) return;
  const { pgTls } = await services();
  if (!pgTls) return t.skip('no second test CA (the Postgres one) to present');
  const env = relayEnv(found.s.pgUrl, found.sec.saslSslBrokers, found.s.names, {
    ...saslEnv(found.sec, 'plain', found.sec.saslSslBrokers),
    RELAY_KAFKA_TLS: 'true',
    RELAY_KAFKA_TLS_CA_FILE: pgTls.caFile,
  });
  const result = await runCli(['doctor', '--json'], env);
  assert.equal(result.code, 1, result.stderr);
  const kafka = (JSON.parse(result.stdout) as Finding[]).find((f) => f.name === 'kafka');
  assert.equal(kafka?.status, 'fail');
  assert.match(kafka.fix ?? '', /did not verify \([A-Z_]+\): set RELAY_KAFKA_TLS_CA_FILE/);
});
