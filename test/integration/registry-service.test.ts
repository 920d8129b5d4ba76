import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { attachServices } from '../../scripts/services/index.ts';
import { RelayError } from '../../src/domain/errors.ts';
import { createRegistryClient } from '../../src/encode/registry-client.ts';
import {
  localRegistryControl,
  removeLocalRegistry,
  startLocalRegistry,
} from '../../scripts/services/registry.ts';
import {
  registerAvro,
  registryRequest,
  registrySkip,
  requireRegistry,
} from '../support/registry.ts';

const services = await attachServices();
after(() => services.close());

const skip = registrySkip(services);

function uniqueSubject(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}-value`;
}

function recordSchema(name: string, fields: { name: string; type: string }[]) {
  return { type: 'record', name, namespace: 'outbox.relay.test', fields };
}

const ORDER_V1 = recordSchema('OrderPlaced', [{ name: 'orderId', type: 'string' }]);

describe('the test run schema registry (Confluent-compatible API)', { skip }, () => {
  it('registers an Avro schema and gives it back by the id it answered with', async () => {
    const url = requireRegistry(services);
    const subject = uniqueSubject('round-trip');
    const id = await registerAvro(url, subject, ORDER_V1);

    const byId = await registryRequest(url, 'GET', `/schemas/ids/${id}`);
    assert.equal(byId.status, 200);
    const { schema } = byId.body as { schema: string };
    assert.deepEqual(JSON.parse(schema), ORDER_V1);

    const latest = await registryRequest(url, 'GET', `/subjects/${subject}/versions/latest`);
    assert.deepEqual(latest.body, {
      subject,
      version: 1,
      id,
      schema,
      schemaType: 'AVRO',
      references: [],
    });
  });

  it('gives one schema registered under two subjects one id, as Confluent does', async () => {
    const url = requireRegistry(services);
    const schema = recordSchema('Shared', [{ name: 'n', type: 'long' }]);
    const first = await registerAvro(url, uniqueSubject('shared-a'), schema);
    const second = await registerAvro(url, uniqueSubject('shared-b'), schema);
    assert.equal(second, first);
  });

  it('answers a lookup of an unregistered schema with 404 and error code 40403', async () => {
    const url = requireRegistry(services);
    const subject = uniqueSubject('lookup');
    await registerAvro(url, subject, ORDER_V1);
    const other = recordSchema('Other', [{ name: 'x', type: 'int' }]);
    const reply = await registryRequest(url, 'POST', `/subjects/${subject}`, {
      schema: JSON.stringify(other),
    });
    assert.equal(reply.status, 404);
    assert.equal((reply.body as { error_code: number }).error_code, 40403);
  });

  it('accepts any new version by default, and refuses an incompatible one with 409 once the subject is BACKWARD', async () => {
    const url = requireRegistry(services);
    const subject = uniqueSubject('compat');
    await registerAvro(url, subject, ORDER_V1);
    const changed = recordSchema('OrderPlaced', [{ name: 'orderId', type: 'long' }]);
    await registerAvro(url, subject, changed);

    const config = await registryRequest(url, 'PUT', `/config/${subject}`, {
      compatibility: 'BACKWARD',
    });
    assert.deepEqual(config, { status: 200, body: { compatibilityLevel: 'BACKWARD' } });
    const incompatible = recordSchema('OrderPlaced', [{ name: 'orderId', type: 'boolean' }]);
    const reply = await registryRequest(url, 'POST', `/subjects/${subject}/versions`, {
      schema: JSON.stringify(incompatible),
    });
    assert.equal(reply.status, 409);
    assert.equal((reply.body as { error_code: number }).error_code, 409);
  });
});

describe('a private local registry', () => {
  const local = services.kind === 'local' ? false : 'needs local processes (kind local)';
  const basicAuth = { username: 'relay-test', password: randomUUID() };

  it(
    'requires the basic-auth credentials it was started with, and comes back empty after a restart',
    { skip: local },
    async () => {
      const registry = await startLocalRegistry({ basicAuth });
      try {
        const anonymous = await registryRequest(registry.url, 'GET', '/subjects');
        assert.equal(anonymous.status, 401);
        const wrong = { ...basicAuth, password: 'wrong' };
        assert.equal(
          (await registryRequest(registry.url, 'GET', '/subjects', undefined, wrong)).status,
          401,
        );
        const subject = uniqueSubject('auth');
        const path = `/subjects/${subject}/versions`;
        const body = { schema: JSON.stringify(ORDER_V1) };
        const registered = await registryRequest(registry.url, 'POST', path, body, basicAuth);
        assert.equal(registered.status, 200);

        // The relay's own client, with the settings' credentials and with wrong ones.
        const client = createRegistryClient({ url: registry.url, ...basicAuth });
        const id = await client.register(uniqueSubject('relay-auth'), JSON.stringify(ORDER_V1));
        const stored = JSON.parse(await client.schemaById(id)) as { name: string };
        assert.equal(stored.name, ORDER_V1.name);
        const refused = await createRegistryClient({ url: registry.url, ...wrong })
          .subjects()
          .then(
            () => assert.fail('wrong credentials were accepted'),
            (error: unknown) => error,
          );
        assert.ok(refused instanceof RelayError && !refused.retriable);
        assert.match(refused.message, /answered 401/);
        assert.match(refused.hint ?? '', /RELAY_SCHEMA_REGISTRY_PASSWORD/);
        assert.ok(!`${refused.message}${refused.hint}`.includes('wrong'));

        const control = localRegistryControl(() =>
          Promise.resolve({ registry, save: () => Promise.resolve() }),
        );
        await control.restart();
        const subjects = await registryRequest(
          registry.url,
          'GET',
          '/subjects',
          undefined,
          basicAuth,
        );
        assert.deepEqual(subjects, { status: 200, body: [] });
      } finally {
        await removeLocalRegistry(registry);
      }
    },
  );
});
