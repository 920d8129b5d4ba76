/**
 * `run` refuses settings that could never work before it touches Postgres or Kafka: exit code 2,
 * each bad setting named. No services are needed: the addresses given are never dialled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../support/relay.ts';

test('run exits 2 naming a broker port out of range, an empty topic template and an unparsable database URL', async () => {
  const result = await runCli(['run'], {
    RELAY_PG_URL: 'postgres://relay:p@ss:w/rd@127.0.0.1:1/app',
    RELAY_KAFKA_BROKERS: '127.0.0.1:99999',
    RELAY_TOPIC_TEMPLATE: '',
    RELAY_HTTP_PORT: '0',
  });
  const output = result.stdout + result.stderr;
  assert.equal(result.code, 2, output);
  assert.match(output, /RELAY_KAFKA_BROKERS: "127\.0\.0\.1:99999": the port must be 1 to 65535/);
  assert.match(output, /RELAY_TOPIC_TEMPLATE is set but empty/);
  assert.match(output, /RELAY_PG_URL: not a parsable URL.*percent-encoded/);
  assert.doesNotMatch(output, /TypeError|Invalid URL|p@ss/);
});
