import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, type ConfigInput } from '../../../src/config/load.ts';
import { SETTINGS, type SettingName } from '../../../src/config/schema.ts';
import { RelayError } from '../../../src/domain/errors.ts';

const REQUIRED_ENV = {
  RELAY_PG_URL: 'postgres://relay@db.internal:5432/app',
  RELAY_KAFKA_BROKERS: 'kafka-1:9092, kafka-2:9092',
};

/** The RelayError loadConfig throws for `input`; fails the test if it does not throw one. */
function configError(input: ConfigInput): RelayError {
  try {
    loadConfig(input);
  } catch (error) {
    assert.ok(error instanceof RelayError, `expected a RelayError, got ${String(error)}`);
    return error;
  }
  assert.fail('loadConfig accepted the configuration');
}

/** The problems listed in a CONFIG_INVALID message, one per line. */
function problems(error: RelayError): string[] {
  return error.message.split('\n').slice(1);
}

test('applies the schema defaults when neither environment nor flags set a value', () => {
  const { config, sources } = loadConfig({ env: REQUIRED_ENV });
  assert.equal(config.outboxSchema, 'public');
  assert.equal(config.outboxTable, 'outbox');
  assert.equal(config.slot, 'outbox_relay');
  assert.equal(config.topicTemplate, 'outbox.event.{aggregateType}');
  assert.equal(config.topicPartitions, 6);
  assert.equal(config.topicReplicationFactor, -1);
  assert.equal(config.createSlot, true);
  assert.equal(config.logLevel, 'info');
  assert.deepEqual(config.kafkaBrokers, ['kafka-1:9092', 'kafka-2:9092']);
  const fromEnv: SettingName[] = ['pgUrl', 'kafkaBrokers'];
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    assert.equal(sources[name], fromEnv.includes(name) ? 'env' : 'default', name);
  }
});

test('lets the environment override defaults, parsing numbers and booleans', () => {
  const { config, sources } = loadConfig({
    env: {
      ...REQUIRED_ENV,
      RELAY_OUTBOX_TABLE: 'events',
      RELAY_TOPIC_PARTITIONS: '12',
      RELAY_CREATE_SLOT: 'false',
    },
  });
  assert.equal(config.outboxTable, 'events');
  assert.equal(config.topicPartitions, 12);
  assert.equal(config.createSlot, false);
  assert.equal(sources.outboxTable, 'env');
  assert.equal(sources.topicPartitions, 'env');
});

test('lets flags override the environment', () => {
  const { config, sources } = loadConfig({
    env: { ...REQUIRED_ENV, RELAY_OUTBOX_TABLE: 'events', RELAY_HTTP_PORT: '9000' },
    flags: { outboxTable: 'flagged', httpPort: '9100', slot: undefined },
  });
  assert.equal(config.outboxTable, 'flagged');
  assert.equal(config.httpPort, 9100);
  assert.equal(config.slot, 'outbox_relay', 'an undefined flag is no flag');
  assert.equal(sources.outboxTable, 'flag');
  assert.equal(sources.httpPort, 'flag');
  assert.equal(sources.slot, 'default');
});

test('treats an empty environment variable as unset', () => {
  const { config, sources } = loadConfig({ env: { ...REQUIRED_ENV, RELAY_LOG_LEVEL: '' } });
  assert.equal(config.logLevel, 'info');
  assert.equal(sources.logLevel, 'default');
});

test('says which environment variable and flag to set for each missing required setting', () => {
  const error = configError({ env: {} });
  const lines = problems(error);
  assert.equal(lines.length, 2, error.message);
  assert.match(lines[0] ?? '', /RELAY_PG_URL is required.*--pg-url/);
  assert.match(lines[1] ?? '', /RELAY_KAFKA_BROKERS is required.*--brokers/);
});

test('does not require the settings a command declares optional', () => {
  const { config, sources } = loadConfig({
    env: { RELAY_PG_URL: REQUIRED_ENV.RELAY_PG_URL },
    optional: ['kafkaBrokers'],
  });
  assert.equal(config.kafkaBrokers, undefined);
  assert.equal('kafkaBrokers' in sources, false);
});

test('reports every bad value at once, each naming its setting and the value given', () => {
  const error = configError({
    env: {
      ...REQUIRED_ENV,
      RELAY_TOPIC_PARTITIONS: 'abc',
      RELAY_KAFKA_BROKERS: 'nohostport',
      RELAY_CREATE_SLOT: 'yes',
    },
  });
  const lines = problems(error);
  assert.equal(lines.length, 3, error.message);
  const line = (env: string) => lines.find((text) => text.includes(env)) ?? '';
  assert.match(line('RELAY_TOPIC_PARTITIONS'), /whole number.*"abc"/);
  assert.match(line('RELAY_KAFKA_BROKERS'), /host:port.*"nohostport"/);
  assert.match(line('RELAY_CREATE_SLOT'), /true or false.*"yes"/);
});

test('names the flag, not the environment variable, when the bad value came from a flag', () => {
  const error = configError({
    env: { ...REQUIRED_ENV, RELAY_HTTP_PORT: '8080' },
    flags: { httpPort: '99999' },
  });
  assert.equal(problems(error).length, 1);
  assert.match(error.message, /--http-port\b.*65535.*"99999"/);
  assert.doesNotMatch(error.message, /RELAY_HTTP_PORT/);
});

test('throws a non-retriable RelayError with code CONFIG_INVALID and a hint', () => {
  const error = configError({ env: { ...REQUIRED_ENV, RELAY_SLOT: 'Bad-Slot' } });
  assert.equal(error.code, 'CONFIG_INVALID');
  assert.equal(error.retriable, false);
  assert.ok(error.hint && error.hint.length > 0, 'has a hint');
  assert.match(error.message, /RELAY_SLOT/);
});

test('never shows the secret database URL in an error, from the environment or a flag', () => {
  const secretUrl = 'mysql://admin:hunter2@db.internal:3306/app';
  for (const input of [
    { env: { ...REQUIRED_ENV, RELAY_PG_URL: secretUrl } },
    { env: REQUIRED_ENV, flags: { pgUrl: secretUrl } },
  ]) {
    const error = configError(input);
    const shown = [error.message, error.hint, error.stack, JSON.stringify(error)].join('\n');
    assert.doesNotMatch(shown, /hunter2/);
    assert.doesNotMatch(shown, /mysql:/);
    assert.match(error.message, /(RELAY_PG_URL|--pg-url)\b.*postgres:\/\/.*hidden/);
  }
});

test('returns a frozen configuration and frozen sources', () => {
  const { config, sources } = loadConfig({ env: REQUIRED_ENV });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(sources));
  assert.throws(() => {
    (config as { outboxTable: string }).outboxTable = 'other';
  }, TypeError);
});

test('records for every setting whether it came from a default, the environment or a flag', () => {
  const { sources } = loadConfig({
    env: { ...REQUIRED_ENV, RELAY_SLOT: 'env_slot' },
    flags: { publication: 'flag_pub' },
  });
  assert.equal(sources.slot, 'env');
  assert.equal(sources.publication, 'flag');
  assert.equal(sources.outboxTable, 'default');
  assert.deepEqual(Object.keys(sources).sort(), Object.keys(SETTINGS).sort());
});

test('refuses a broker port out of range, a broker without a host and a non-numeric port', () => {
  const cases: [string, RegExp][] = [
    ['127.0.0.1:99999', /"127\.0\.0\.1:99999": the port must be 1 to 65535/],
    ['kafka-1:0', /"kafka-1:0": the port must be 1 to 65535/],
    ['kafka-1:9092,:9092', /":9092" has no host/],
    ['kafka-1:nine', /"kafka-1:nine": the port must be a number/],
  ];
  for (const [brokers, message] of cases) {
    const error = configError({ env: { ...REQUIRED_ENV, RELAY_KAFKA_BROKERS: brokers } });
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(problems(error).join('\n'), /RELAY_KAFKA_BROKERS: /, brokers);
    assert.match(error.message, message, brokers);
  }
  const { config } = loadConfig({ env: { ...REQUIRED_ENV, RELAY_KAFKA_BROKERS: 'k:1,k:65535' } });
  assert.deepEqual(config.kafkaBrokers, ['k:1', 'k:65535']);
});

test('refuses RELAY_TOPIC_TEMPLATE set but empty, rather than falling back to the default', () => {
  const error = configError({ env: { ...REQUIRED_ENV, RELAY_TOPIC_TEMPLATE: '' } });
  assert.deepEqual(problems(error), [
    '  - RELAY_TOPIC_TEMPLATE is set but empty: unset it to take the default (outbox.event.{aggregateType}), or give a value',
  ]);
});

test('refuses a topic template that can never make a usable topic name, saying why', () => {
  const cases: [string, RegExp][] = [
    ['..', /not a legal topic name: "\.\." is reserved/],
    ['__{aggregateType}', /begins with "__", kept for Kafka's internal topics/],
    ['__consumer_offsets', /begins with "__"/],
    [`${'a'.repeat(249)}{eventType}`, /every topic it makes is over 249 characters long/],
    ['orders/{aggregateType}', /characters a Kafka topic name cannot/],
    ['outbox.{aggregate}', /unknown placeholder/],
    ['outbox.deadletter', /is RELAY_DEAD_LETTER_TOPIC: every event would go to the relay's own/],
    ['outbox-relay.checkpoints', /is RELAY_CHECKPOINT_TOPIC/],
  ];
  for (const [template, message] of cases) {
    const error = configError({ env: { ...REQUIRED_ENV, RELAY_TOPIC_TEMPLATE: template } });
    assert.match(error.message, /RELAY_TOPIC_TEMPLATE/, template);
    assert.match(error.message, message, template);
  }
  for (const template of ['_{aggregateType}', '{aggregateType}', `${'a'.repeat(248)}{eventType}`]) {
    const { config } = loadConfig({ env: { ...REQUIRED_ENV, RELAY_TOPIC_TEMPLATE: template } });
    assert.equal(config.topicTemplate, template);
  }
});

test('says to percent-encode a database password holding @ : or /, without showing it', () => {
  const url = 'postgres://relay:p@ss:w/rd@db.internal:5432/app';
  for (const input of [
    { env: { ...REQUIRED_ENV, RELAY_PG_URL: url } },
    { env: REQUIRED_ENV, flags: { pgUrl: url } },
  ]) {
    const error = configError(input);
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, /(RELAY_PG_URL|--pg-url): not a parsable URL.*percent-encoded/);
    assert.match(error.message, /@ as %40, : as %3A, \/ as %2F.*RELAY_PG_URL_FILE/);
    assert.doesNotMatch(error.message, /p@ss|w\/rd/);
  }
  const encoded = 'postgres://relay:p%40ss%3Aw%2Frd@db.internal:5432/app';
  assert.equal(
    loadConfig({ env: { ...REQUIRED_ENV, RELAY_PG_URL: encoded } }).config.pgUrl,
    encoded,
  );
});

test('RELAY_PG_URL may name several hosts with target_session_attrs, as libpq takes them', () => {
  const url = 'postgres://relay@a:5432,b:5433/app?target_session_attrs=read-write';
  const { config } = loadConfig({ env: { ...REQUIRED_ENV, RELAY_PG_URL: url } });
  assert.equal(config.pgUrl, url);
});

test('an unsupported target_session_attrs stops the relay at load, naming the setting', () => {
  const url = 'postgres://relay@a,b/app?target_session_attrs=prefer-standby';
  assert.throws(
    () => loadConfig({ env: { ...REQUIRED_ENV, RELAY_PG_URL: url } }),
    (error: unknown) =>
      error instanceof RelayError &&
      error.code === 'CONFIG_INVALID' &&
      /RELAY_PG_URL/.test(error.message) &&
      /target_session_attrs=prefer-standby/.test(error.message),
  );
});
