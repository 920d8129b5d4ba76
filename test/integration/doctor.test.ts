import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import pg from 'pg';
import type { Finding } from '../../src/admin/doctor.ts';
import { createLogger } from '../../src/ops/logger.ts';
import { createKafkaSink } from '../../src/publish/kafka.ts';
import { dropOutbox, prepareOutbox, services, uniqueNames } from '../support/fixtures.ts';
import { relayEnv, runCli, type CliResult } from '../support/relay.ts';

/** The machine's own PostgreSQL (wal_level=replica): a real server that is not ready. */
const SYSTEM_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const SECRET = 'pw-very-secret';

const names = uniqueNames('doctor');

before(async () => {
  await prepareOutbox((await services()).pgUrl, names);
});

after(async () => {
  await dropOutbox((await services()).pgUrl, names);
});

async function doctorJson(env: Record<string, string>) {
  const result = await runCli(['doctor', '--json'], env);
  const findings = JSON.parse(result.stdout) as Finding[];
  const byName = (name: string) => {
    const found = findings.find((f) => f.name === name);
    assert.ok(found, `no finding "${name}" in ${result.stdout}`);
    return found;
  };
  return { ...result, findings, byName };
}

async function createTopic(topic: string, partitions: number): Promise<void> {
  const { kafkaBrokers } = await services();
  const sink = createKafkaSink({
    brokers: kafkaBrokers,
    clientId: 'doctor-test',
    partitions,
    replicationFactor: -1,
    logger: createLogger('silent'),
  });
  try {
    await sink.ensureTopics([topic]);
  } finally {
    await sink.disconnect();
  }
}

async function reachable(url: string): Promise<boolean> {
  const db = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await db.connect();
    return true;
  } catch {
    return false;
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** ALTER SYSTEM on the harness's server for the length of `work`, then RESET. */
async function withServerSetting<T>(
  pgUrl: string,
  setting: string,
  value: string,
  work: () => Promise<T>,
): Promise<T> {
  const db = new pg.Client({ connectionString: pgUrl });
  await db.connect();
  try {
    await db.query(`ALTER SYSTEM SET ${setting} = '${value}'`);
    await db.query('SELECT pg_reload_conf()');
    return await work();
  } finally {
    await db.query(`ALTER SYSTEM RESET ${setting}`);
    await db.query('SELECT pg_reload_conf()');
    await db.end();
  }
}

test('doctor passes every check on an outbox prepared by migrate, and exits 0', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  await createTopic(names.topic('order'), 6);
  const env = relayEnv(pgUrl, kafkaBrokers, names);
  // A well-configured server caps the WAL a slot may hold (the harness's default is -1).
  const result = await withServerSetting(pgUrl, 'max_slot_wal_keep_size', '10GB', () =>
    doctorJson(env),
  );
  assert.equal(result.code, 0, result.stdout + result.stderr);
  for (const finding of result.findings) {
    // failover slots need PostgreSQL 17: not checked before it, with the recovery named
    if (finding.name === 'failover') continue;
    const expected = finding.name === 'schema registry' ? 'skip' : 'ok';
    assert.equal(finding.status, expected, JSON.stringify(finding));
  }
  assert.match(result.byName('failover').status, /^(ok|skip)$/);
  assert.match(result.byName('topic partitions').detail, /1 topic\(s\) match .* each with/);
  assert.equal(result.byName('schema registry').detail, 'no schema registry configured');

  assert.match(result.byName('wal keep size').detail, /max_slot_wal_keep_size = 10/);

  const plain = await withServerSetting(pgUrl, 'max_slot_wal_keep_size', '10GB', () =>
    runCli(['doctor'], env),
  );
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^✓ wal_level +wal_level = logical$/m);
  assert.match(plain.stdout, /^- schema registry +no schema registry configured$/m);
  assert.doesNotMatch(plain.stdout, /^[✗!]/m);
});

test('doctor warns, and still exits 0, when max_slot_wal_keep_size is unlimited, saying what to set', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const result = await doctorJson(relayEnv(pgUrl, kafkaBrokers, names));
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const keep = result.byName('wal keep size');
  assert.equal(keep.status, 'warn', JSON.stringify(keep));
  assert.match(keep.detail, /max_slot_wal_keep_size = -1 \(unlimited\)/);
  assert.match(keep.fix ?? '', /ALTER SYSTEM SET max_slot_wal_keep_size = /);
  // Before PostgreSQL 18 there is no idle_replication_slot_timeout to warn about.
  const idle = result.byName('idle slot timeout');
  assert.match(idle.status, /^(ok|warn)$/);
});

test('doctor warns, and still exits 0, when existing topics differ from RELAY_TOPIC_PARTITIONS', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const other = uniqueNames('doctor_parts');
  await createTopic(other.topic('invoice'), 2);
  const env = relayEnv(pgUrl, kafkaBrokers, names, { RELAY_TOPIC_TEMPLATE: other.topicTemplate });
  const result = await doctorJson(env);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const partitions = result.byName('topic partitions');
  assert.equal(partitions.status, 'warn');
  assert.match(partitions.detail, new RegExp(`${other.topic('invoice')} \\(2\\)`));
  assert.match(partitions.detail, /RELAY_TOPIC_PARTITIONS = 6/);
  assert.match(partitions.fix ?? '', /Do not add partitions to a topic in use/);
});

test('doctor fails on a missing publication and slot, with fixes that name outbox-relay migrate', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const missing = uniqueNames('doctor_none');
  const result = await doctorJson(relayEnv(pgUrl, kafkaBrokers, missing));
  assert.equal(result.code, 1, result.stderr);
  const publication = result.byName('publication');
  assert.equal(publication.status, 'fail');
  assert.match(
    publication.detail,
    new RegExp(`publication "${missing.publication}" does not exist`),
  );
  assert.match(publication.fix ?? '', /outbox-relay migrate/);
  assert.match(publication.fix ?? '', /CREATE PUBLICATION .* WITH \(publish = 'insert'\);/);
  // run would create the slot, but only events written after that would be relayed.
  const slot = result.byName('slot');
  assert.equal(slot.status, 'warn');
  assert.match(slot.fix ?? '', /outbox-relay migrate/);
  assert.equal(result.byName('outbox table access').status, 'fail');
  assert.equal(result.byName('slot lag').status, 'skip');

  const strict = await doctorJson(
    relayEnv(pgUrl, kafkaBrokers, missing, { RELAY_CREATE_SLOT: 'false' }),
  );
  assert.equal(strict.byName('slot').status, 'fail');
  assert.match(strict.byName('slot').detail, /RELAY_CREATE_SLOT=false/);

  const plain = await runCli(['doctor'], relayEnv(pgUrl, kafkaBrokers, missing));
  assert.equal(plain.code, 1);
  assert.match(
    plain.stdout,
    /^✗ publication +publication ".*" does not exist\n +fix: outbox-relay migrate/m,
  );
});

test('doctor warns, and still exits 0, when the outbox lacks the tx_id and tx_seq columns replay orders by', async () => {
  const { pgUrl, kafkaBrokers } = await services();
  const legacy = uniqueNames('doctor_legacy');
  await prepareOutbox(pgUrl, legacy, { before: 3 });
  try {
    const result = await doctorJson(relayEnv(pgUrl, kafkaBrokers, legacy));
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const order = result.byName('replay order');
    assert.equal(order.status, 'warn');
    assert.match(order.detail, /has no tx_id and tx_seq columns \(migration 0003\)/);
    assert.match(order.detail, /--order created-at/);
    assert.doesNotMatch(order.detail, /track_commit_timestamp/, 'the test cluster records them');
    assert.equal(order.fix, 'outbox-relay migrate adds them.');
  } finally {
    await dropOutbox(pgUrl, legacy);
  }
});

test('doctor finds wal_level=replica on the system PostgreSQL and gives the fix', async (t) => {
  if (!(await reachable(SYSTEM_PG_URL))) {
    t.skip(`no PostgreSQL at ${SYSTEM_PG_URL}`);
    return;
  }
  const { kafkaBrokers } = await services();
  const result = await doctorJson(relayEnv(SYSTEM_PG_URL, kafkaBrokers, uniqueNames('doctor_sys')));
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.byName('postgres').status, 'ok');
  const walLevel = result.byName('wal_level');
  assert.equal(walLevel.status, 'fail');
  assert.match(walLevel.detail, /wal_level = replica/);
  assert.match(
    walLevel.fix ?? '',
    /ALTER SYSTEM SET wal_level = 'logical'; then restart PostgreSQL/,
  );
});

test('an unreachable Kafka is a failed finding within 15 s, not a crash', async () => {
  const { pgUrl } = await services();
  const result = await doctorJson(relayEnv(pgUrl, ['127.0.0.1:1'], names));
  assert.equal(result.code, 1, result.stderr);
  assert.ok(result.ms < 15_000, `took ${result.ms} ms`);
  const kafka = result.byName('kafka');
  assert.equal(kafka.status, 'fail');
  assert.match(kafka.detail, /cannot reach Kafka at 127\.0\.0\.1:1/);
  assert.match(kafka.fix ?? '', /RELAY_KAFKA_BROKERS/);
  assert.equal(result.byName('topic partitions').status, 'skip');
  assert.equal(result.byName('wal_level').status, 'ok', 'the PostgreSQL checks still ran');
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
});

test('a broker that accepts connections and never answers is a failed finding within 15 s', async () => {
  const { pgUrl } = await services();
  const accepted = new Set<Socket>();
  const silent = createServer((socket) => accepted.add(socket.resume()));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as AddressInfo;
  try {
    const result = await doctorJson(relayEnv(pgUrl, [`127.0.0.1:${port}`], names));
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.ms < 15_000, `took ${result.ms} ms`);
    assert.equal(result.byName('kafka').status, 'fail');
  } finally {
    for (const socket of accepted) socket.destroy();
    silent.close();
  }
});

test('an unreachable PostgreSQL is a failed finding, and its other checks are not run', async () => {
  const { kafkaBrokers } = await services();
  const result = await doctorJson(relayEnv('postgres://u@127.0.0.1:1/db', kafkaBrokers, names));
  assert.equal(result.code, 1, result.stderr);
  assert.equal(result.byName('postgres').status, 'fail');
  assert.match(result.byName('postgres').fix ?? '', /RELAY_PG_URL/);
  assert.equal(result.byName('wal_level').status, 'skip');
  assert.equal(result.byName('kafka').status, 'ok');
});

test('no password reaches config show or doctor, in the URL, as ?password= or for SASL, nor their logs', async () => {
  const { pgUrl, kafkaBrokers, kafkaSecurity } = await services();
  // Kafka refuses this password: the failed login is where it could leak.
  const sasl = {
    RELAY_KAFKA_SASL_MECHANISM: 'scram-sha-256',
    RELAY_KAFKA_SASL_USERNAME: 'relay',
    RELAY_KAFKA_SASL_PASSWORD: SECRET,
  };
  const brokers = kafkaSecurity?.saslPlaintextBrokers ?? kafkaBrokers;
  const withPassword = new URL(pgUrl);
  withPassword.username ||= 'postgres';
  withPassword.password = SECRET;
  const inQuery = new URL(pgUrl);
  inQuery.searchParams.set('password', SECRET);
  const unreachable = `postgres://relay:${SECRET}@127.0.0.1:1/db?sslpassword=${SECRET}`;
  for (const url of [withPassword.toString(), inQuery.toString(), unreachable]) {
    // The throwaway cluster trusts local connections, so the password is held, not needed.
    const env = relayEnv(url, brokers, names, { RELAY_LOG_LEVEL: 'trace', ...sasl });
    const runs = [
      await runCli(['config', 'show'], env),
      await runCli(['config', 'show', '--json'], env),
      // An invalid value is named, not shown.
      await runCli(['config', 'show', '--pg-url', url.replace(/^postgres/, 'mysql')], env),
      await runCli(['doctor'], env),
      await runCli(['doctor', '--json'], env),
    ];
    const doctor = runs[3] as CliResult;
    assert.match(doctor.stdout, /connected to|cannot connect to/, doctor.stderr);
    assert.match(doctor.stderr, /"msg":"doctor starting"/, 'trace logs were written');
    for (const run of runs) assert.doesNotMatch(run.stdout + run.stderr, new RegExp(SECRET));
  }
});
