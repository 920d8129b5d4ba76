import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SettingLine } from '../../src/cli/config-show.ts';
import { SETTINGS } from '../../src/config/schema.ts';
import { runCli } from '../support/relay.ts';

const BASE = {
  RELAY_PG_URL: 'postgres://relay:s3cret-pw@db.example:5432/app',
  RELAY_KAFKA_BROKERS: 'k1:9092,k2:9092',
};

async function showJson(args: string[], env: Record<string, string>) {
  const result = await runCli(['config', 'show', '--json', ...args], env);
  const lines = JSON.parse(result.stdout) as SettingLine[];
  const line = (name: string) => {
    const found = lines.find((l) => l.name === name);
    assert.ok(found, `no setting ${name}`);
    return found;
  };
  return { ...result, lines, line };
}

test('config show says where each value came from: a flag over the environment over the default', async () => {
  const env = { ...BASE, RELAY_SLOT: 'env_slot', RELAY_PUBLICATION: 'env_pub' };
  const result = await showJson(['--publication', 'flag_pub'], env);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    result.lines.map((l) => l.name),
    Object.keys(SETTINGS),
    'one line per setting',
  );
  assert.deepEqual(result.line('publication'), {
    name: 'publication',
    env: 'RELAY_PUBLICATION',
    flag: 'publication',
    value: 'flag_pub',
    source: 'flag',
  });
  assert.equal(result.line('slot').source, 'env');
  assert.equal(result.line('slot').value, 'env_slot');
  assert.equal(result.line('outboxTable').source, 'default');
  assert.equal(result.line('outboxTable').value, 'outbox');
  assert.deepEqual(result.line('kafkaBrokers').value, ['k1:9092', 'k2:9092']);
  assert.equal(result.line('topicPartitions').value, 6);

  const plain = await runCli(['config', 'show', '--publication', 'flag_pub'], env);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout.trimEnd().split('\n').length, Object.keys(SETTINGS).length);
  assert.match(plain.stdout, /^publication +RELAY_PUBLICATION +flag +"flag_pub"$/m);
  assert.match(plain.stdout, /^slot +RELAY_SLOT +env +"env_slot"$/m);
  assert.match(plain.stdout, /^outboxTable +RELAY_OUTBOX_TABLE +default +"outbox"$/m);
});

test('config show hides the password of RELAY_PG_URL, keeping user, host and database', async () => {
  const result = await showJson([], BASE);
  assert.equal(result.line('pgUrl').value, 'postgres://relay:*****@db.example:5432/app');
  assert.equal(result.line('pgUrl').source, 'env');
  const fromFlag = await showJson(['--pg-url', 'postgres://h/app?password=s3cret-pw'], BASE);
  assert.equal(fromFlag.line('pgUrl').value, 'postgres://h/app?password=*****');
  assert.equal(fromFlag.line('pgUrl').source, 'flag');
  assert.doesNotMatch(result.stdout + fromFlag.stdout, /s3cret-pw/);
});

test('config show marks a missing required setting "(missing)", still shows the rest, and exits 2 naming it', async () => {
  const env = { RELAY_PG_URL: BASE.RELAY_PG_URL, RELAY_SLOT: 'env_slot' };
  const plain = await runCli(['config', 'show'], env);
  assert.equal(plain.code, 2);
  assert.match(
    plain.stdout,
    /^kafkaBrokers +RELAY_KAFKA_BROKERS +- +\(missing\) RELAY_KAFKA_BROKERS is required: set RELAY_KAFKA_BROKERS or pass --brokers$/m,
  );
  assert.match(plain.stdout, /^slot +RELAY_SLOT +env +"env_slot"$/m);
  assert.match(plain.stderr, /RELAY_KAFKA_BROKERS is required/);

  const json = await showJson([], env);
  assert.equal(json.code, 2);
  assert.equal(json.line('kafkaBrokers').problem, 'missing');
  assert.equal(json.line('kafkaBrokers').value, null);
  assert.equal(json.line('kafkaBrokers').source, null);
});

test('config show marks an invalid value "(invalid)" with where it came from, and exits 2', async () => {
  const result = await showJson(['--brokers', 'no-port'], {
    ...BASE,
    RELAY_TOPIC_PARTITIONS: 'many',
  });
  assert.equal(result.code, 2);
  assert.equal(result.line('topicPartitions').problem, 'invalid');
  assert.match(
    result.line('topicPartitions').error ?? '',
    /RELAY_TOPIC_PARTITIONS: must be a whole number; got "many"/,
  );
  assert.match(
    result.line('kafkaBrokers').error ?? '',
    /^--brokers: each broker must be host:port/,
  );
  assert.equal(result.line('slot').source, 'default');
  assert.match(result.stderr, /RELAY_TOPIC_PARTITIONS: must be a whole number/);
});
