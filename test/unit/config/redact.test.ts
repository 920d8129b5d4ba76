import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load.ts';
import { redactConfig, redactUrl } from '../../../src/config/redact.ts';

test('hides the database password and keeps user, host, port and database', () => {
  const { config } = loadConfig({
    env: {
      RELAY_PG_URL: 'postgres://relay:hunter2@db.internal:5432/app',
      RELAY_KAFKA_BROKERS: 'kafka:9092',
    },
  });
  const shown = redactConfig(config);
  assert.equal(shown.pgUrl, 'postgres://relay:*****@db.internal:5432/app');
  assert.doesNotMatch(JSON.stringify(shown), /hunter2/);
  assert.deepEqual(shown.kafkaBrokers, ['kafka:9092'], 'settings that are not secret are shown');
  assert.equal(shown.outboxTable, 'outbox');
});

test('hides a password passed in the query string, which node-postgres also accepts', () => {
  const shown = redactUrl('postgresql://relay@db.internal/app?password=hunter2&sslmode=require');
  assert.doesNotMatch(shown, /hunter2/);
  assert.match(shown, /^postgresql:\/\/relay@db\.internal\/app\?/);
  assert.match(shown, /sslmode=require/);
});

test('leaves a URL without a password as it is', () => {
  assert.equal(redactUrl('postgres://relay@db.internal/app'), 'postgres://relay@db.internal/app');
});

test('hides the whole value when it cannot be parsed as a URL', () => {
  assert.equal(redactUrl('postgres://relay:hunter2@db.internal:port/app'), '*****');
});

test('hides the password of a URL naming several hosts', () => {
  assert.equal(
    redactUrl('postgres://relay:hunter2@a:5432,b:5432/app?target_session_attrs=read-write'),
    'postgres://relay:*****@a:5432,b:5432/app?target_session_attrs=read-write',
  );
  assert.equal(
    redactUrl('postgres://relay@/app?host=a,b&password=hunter2'),
    'postgres://relay@/app?host=a,b&password=*****',
  );
});
