import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LOCAL_NAMES,
  makeCa,
  makeCertificate,
  type CertificateFiles,
} from '../../../scripts/services/tls.ts';
import { loadConfig, type ConfigInput } from '../../../src/config/load.ts';
import { redactConfig } from '../../../src/config/redact.ts';
import { RelayError } from '../../../src/domain/errors.ts';
import { kafkaSecurity } from '../../../src/publish/kafka-security.ts';

const BASE = { RELAY_PG_URL: 'postgres://relay@db/app', RELAY_KAFKA_BROKERS: 'kafka-1:9093' };
let dir = '';
let ca: CertificateFiles;
let server: CertificateFiles;
let client: CertificateFiles;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'outbox-relay-tls-'));
  ca = await makeCa(dir, 'ca');
  server = await makeCertificate(dir, 'server', ca, { altNames: LOCAL_NAMES });
  client = await makeCertificate(dir, 'client', ca, { client: true });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function problems(env: Record<string, string>): string {
  try {
    loadConfig({ env: { ...BASE, ...env } } satisfies ConfigInput);
  } catch (error) {
    assert.ok(error instanceof RelayError && error.code === 'CONFIG_INVALID', String(error));
    return error.message;
  }
  assert.fail('loadConfig accepted the configuration');
}

test('TLS with a CA file and SCRAM become kafkajs ssl and sasl options, the CA read from the file', () => {
  const { config } = loadConfig({
    env: {
      ...BASE,
      RELAY_KAFKA_TLS: 'true',
      RELAY_KAFKA_TLS_CA_FILE: ca.certFile,
      RELAY_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      RELAY_KAFKA_SASL_USERNAME: 'relay',
      RELAY_KAFKA_SASL_PASSWORD: 'pw',
    },
  });
  const security = kafkaSecurity(config);
  assert.match(String(security.ssl?.ca), /^-----BEGIN CERTIFICATE-----/);
  assert.equal(security.ssl?.rejectUnauthorized, true);
  assert.deepEqual(security.sasl, {
    mechanism: 'scram-sha-512',
    username: 'relay',
    password: 'pw',
  });
});

test('plaintext without SASL is the default: no ssl, no sasl', () => {
  assert.deepEqual(kafkaSecurity(loadConfig({ env: BASE }).config), {});
});

test('a SASL mechanism without user name or password names both missing settings', () => {
  const message = problems({ RELAY_KAFKA_SASL_MECHANISM: 'plain' });
  assert.match(
    message,
    /RELAY_KAFKA_SASL_MECHANISM=plain needs RELAY_KAFKA_SASL_USERNAME and RELAY_KAFKA_SASL_PASSWORD \(or RELAY_KAFKA_SASL_PASSWORD_FILE\)/,
  );
  assert.match(
    problems({ RELAY_KAFKA_SASL_MECHANISM: 'bogus' }),
    /RELAY_KAFKA_SASL_MECHANISM: must be one of none, plain/,
  );
});

test('credentials without a mechanism are a mistake, not a plaintext connection', () => {
  assert.match(
    problems({ RELAY_KAFKA_SASL_USERNAME: 'relay', RELAY_KAFKA_SASL_PASSWORD: 'pw' }),
    /RELAY_KAFKA_SASL_MECHANISM is none: set the mechanism/,
  );
});

test('a client certificate needs its key, the key that belongs to it, and TLS turned on', () => {
  const tls = { RELAY_KAFKA_TLS: 'true' };
  assert.match(
    problems({ ...tls, RELAY_KAFKA_TLS_CERT_FILE: client.certFile }),
    /RELAY_KAFKA_TLS_CERT_FILE and RELAY_KAFKA_TLS_KEY_FILE go together/,
  );
  assert.match(
    problems({
      ...tls,
      RELAY_KAFKA_TLS_CERT_FILE: client.certFile,
      RELAY_KAFKA_TLS_KEY_FILE: server.keyFile,
    }),
    /do not belong together/,
  );
  assert.match(
    problems({ RELAY_KAFKA_TLS_CA_FILE: ca.certFile }),
    /RELAY_KAFKA_TLS_CA_FILE set but RELAY_KAFKA_TLS is false: set RELAY_KAFKA_TLS=true/,
  );
  const { config } = loadConfig({
    env: {
      ...BASE,
      ...tls,
      RELAY_KAFKA_TLS_CERT_FILE: client.certFile,
      RELAY_KAFKA_TLS_KEY_FILE: client.keyFile,
    },
  });
  assert.match(kafkaSecurity(config).ssl?.key as string, /PRIVATE KEY/);
});

test('an unreadable or wrong PEM file stops the load, naming the setting and the path', async () => {
  const missing = join(dir, 'nope.pem');
  assert.match(
    problems({ RELAY_KAFKA_TLS: 'true', RELAY_KAFKA_TLS_CA_FILE: missing }),
    new RegExp(
      `RELAY_KAFKA_TLS_CA_FILE: cannot read the file ${JSON.stringify(missing)} \\(ENOENT\\)`,
    ),
  );
  assert.match(
    problems({ RELAY_KAFKA_TLS: 'true', RELAY_KAFKA_TLS_CA_FILE: server.keyFile }),
    /RELAY_KAFKA_TLS_CA_FILE: ".*server.key" holds no PEM certificate/,
  );
  const encrypted = join(dir, 'encrypted.key');
  await writeFile(
    encrypted,
    '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n',
  );
  assert.match(
    problems({
      RELAY_KAFKA_TLS: 'true',
      RELAY_KAFKA_TLS_CERT_FILE: client.certFile,
      RELAY_KAFKA_TLS_KEY_FILE: encrypted,
    }),
    /RELAY_KAFKA_TLS_KEY_FILE: .* holds an encrypted key/,
  );
});

test("RELAY_PG_URL's sslrootcert must be a readable certificate, found at load", () => {
  const missing = join(dir, 'root.crt');
  const message = problems({
    RELAY_PG_URL: `postgres://relay@db/app?sslmode=verify-full&sslrootcert=${missing}`,
  });
  assert.match(message, /RELAY_PG_URL: sslrootcert: cannot read the file .*ENOENT/);
  loadConfig({
    env: {
      ...BASE,
      RELAY_PG_URL: `postgres://relay@db/app?sslmode=verify-full&sslrootcert=${ca.certFile}`,
    },
  });
});

test('the SASL password may come from a file and is hidden whole, even when it parses as a URL', async () => {
  const path = join(dir, 'sasl-password');
  await writeFile(path, 'p:hunter2@x\n');
  const { config, sources } = loadConfig({
    env: {
      ...BASE,
      RELAY_KAFKA_SASL_MECHANISM: 'scram-sha-256',
      RELAY_KAFKA_SASL_USERNAME: 'relay',
      RELAY_KAFKA_SASL_PASSWORD_FILE: path,
    },
  });
  assert.equal(config.kafkaSaslPassword, 'p:hunter2@x');
  assert.equal(sources.kafkaSaslPassword, 'file');
  const shown = redactConfig(config);
  assert.equal(shown.kafkaSaslPassword, '*****');
  assert.equal(shown.kafkaSaslUsername, 'relay');
  assert.doesNotMatch(JSON.stringify(shown), /hunter2/);
});
