import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type ConfigInput } from '../../../src/config/load.ts';
import { RelayError } from '../../../src/domain/errors.ts';

const URL_IN_FILE = 'postgres://relay:s3cret-from-file@db.internal:5432/app';
const BROKERS = { RELAY_KAFKA_BROKERS: 'kafka-1:9092' };
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outbox-relay-secrets-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function secretFile(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

function configError(input: ConfigInput): RelayError {
  try {
    loadConfig(input);
  } catch (error) {
    assert.ok(error instanceof RelayError, `expected a RelayError, got ${String(error)}`);
    assert.equal(error.code, 'CONFIG_INVALID');
    return error;
  }
  assert.fail('loadConfig accepted the configuration');
}

test('reads a secret from the file named by <ENV>_FILE, without its trailing newline', async () => {
  const path = await secretFile('pg-url', `${URL_IN_FILE}\n`);
  const { config, sources } = loadConfig({ env: { ...BROKERS, RELAY_PG_URL_FILE: path } });
  assert.equal(config.pgUrl, URL_IN_FILE);
  assert.equal(sources.pgUrl, 'file');
});

test('takes the file as it is when it has no trailing newline, and drops a CRLF one', async () => {
  const bare = await secretFile('pg-url-bare', URL_IN_FILE);
  const crlf = await secretFile('pg-url-crlf', `${URL_IN_FILE}\r\n`);
  for (const path of [bare, crlf]) {
    assert.equal(
      loadConfig({ env: { ...BROKERS, RELAY_PG_URL_FILE: path } }).config.pgUrl,
      URL_IN_FILE,
    );
  }
});

test('a flag still wins over a secret file, as it wins over the environment', async () => {
  const path = await secretFile('pg-url-flag', URL_IN_FILE);
  const { config, sources } = loadConfig({
    env: { ...BROKERS, RELAY_PG_URL_FILE: path },
    flags: { pgUrl: 'postgres://other@db/app' },
  });
  assert.equal(config.pgUrl, 'postgres://other@db/app');
  assert.equal(sources.pgUrl, 'flag');
});

test('setting both the variable and its _FILE is a configuration error naming both', async () => {
  const path = await secretFile('pg-url-both', URL_IN_FILE);
  const error = configError({
    env: { ...BROKERS, RELAY_PG_URL: 'postgres://relay@db/app', RELAY_PG_URL_FILE: path },
  });
  assert.match(error.message, /RELAY_PG_URL and RELAY_PG_URL_FILE are both set/);
  assert.doesNotMatch(error.message, /is required/, 'one problem, not two');
});

test('an unreadable secret file is a configuration error naming the variable and the path', () => {
  const missing = join(dir, 'no-such-file');
  const error = configError({ env: { ...BROKERS, RELAY_PG_URL_FILE: missing } });
  assert.match(error.message, /RELAY_PG_URL_FILE: cannot read the file/);
  assert.ok(error.message.includes(JSON.stringify(missing)), error.message);
  assert.match(error.message, /ENOENT/);
  const directory = configError({ env: { ...BROKERS, RELAY_PG_URL_FILE: dir } });
  assert.match(directory.message, /RELAY_PG_URL_FILE: cannot read the file .*EISDIR/);
});

test('an invalid value from a file names the _FILE variable and hides the value', async () => {
  const path = await secretFile('pg-url-bad', 'mysql://root:hunter2@db/app\n');
  const error = configError({ env: { ...BROKERS, RELAY_PG_URL_FILE: path } });
  assert.match(
    error.message,
    /RELAY_PG_URL_FILE: must be a postgres:\/\/ .*; got \(value hidden\)/,
  );
  assert.doesNotMatch(error.message, /hunter2/);
});

test('an empty _FILE variable counts as unset, like an empty variable', () => {
  const { config, sources } = loadConfig({
    env: { ...BROKERS, RELAY_PG_URL: URL_IN_FILE, RELAY_PG_URL_FILE: '' },
  });
  assert.equal(config.pgUrl, URL_IN_FILE);
  assert.equal(sources.pgUrl, 'env');
  assert.match(
    configError({ env: BROKERS }).message,
    /RELAY_PG_URL is required: set RELAY_PG_URL \(or RELAY_PG_URL_FILE\)/,
  );
});

test('only secret settings read _FILE variables', async () => {
  const path = await secretFile('brokers', 'elsewhere:9092');
  const error = configError({
    env: { RELAY_PG_URL: URL_IN_FILE, RELAY_KAFKA_BROKERS_FILE: path },
  });
  assert.match(error.message, /RELAY_KAFKA_BROKERS is required/);
});
