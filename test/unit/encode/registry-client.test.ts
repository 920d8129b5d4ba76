/**
 * The client's HTTP handling: what it sends (basic auth, content type) and how it classifies
 * answers (retriable or not, "not there" as null). The registry itself is tested for real in
 * test/integration/schema-registry.test.ts; this server only answers canned responses.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RelayError } from '../../../src/domain/errors.ts';
import { createRegistryClient } from '../../../src/encode/registry-client.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let answer: (req: Seen, res: ServerResponse) => void = (_req, res) => res.end();
const seen: Seen[] = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
    seen.push(request);
    answer(request, res);
  });
});
let base = '';

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
  res.end(JSON.stringify(body));
}

async function refusal(promise: Promise<unknown>): Promise<RelayError> {
  const error = await promise.then(
    () => assert.fail('expected a RelayError'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof RelayError);
  assert.equal(error.code, 'REGISTRY');
  return error;
}

describe('schema registry client', () => {
  it('registers with the Confluent content type and basic auth, and caches the id', async () => {
    seen.length = 0;
    answer = (_req, res) => json(res, 200, { id: 7 });
    const client = createRegistryClient({
      url: `${base}/apis/ccompat/v7/`,
      username: 'relay',
      password: 's3cret',
    });
    assert.equal(await client.register('orders-value', '"string"'), 7);
    assert.equal(await client.register('orders-value', '"string"'), 7);
    assert.equal(seen.length, 1, 'the second registration is served from the cache');
    const [request] = seen;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.url, '/apis/ccompat/v7/subjects/orders-value/versions');
    assert.equal(request?.headers['content-type'], 'application/vnd.schemaregistry.v1+json');
    assert.equal(
      request?.headers.authorization,
      `Basic ${Buffer.from('relay:s3cret').toString('base64')}`,
    );
    assert.deepEqual(JSON.parse(request?.body ?? ''), { schema: '"string"', schemaType: 'AVRO' });
  });

  it('moves credentials out of the URL into the header, and never shows the password', async () => {
    seen.length = 0;
    answer = (_req, res) => json(res, 401, { error_code: 40101, message: 'Unauthorized' });
    const url = base.replace('http://', 'http://relay:p%40ss@');
    const client = createRegistryClient({ url });
    const error = await refusal(client.subjects());
    assert.equal(
      seen[0]?.headers.authorization,
      `Basic ${Buffer.from('relay:p@ss').toString('base64')}`,
    );
    assert.ok(!client.url.includes('p%40ss') && !client.url.includes('relay'));
    assert.ok(!`${error.message} ${error.hint}`.includes('p@ss'));
    assert.equal(error.retriable, false);
    assert.match(
      error.message,
      /answered 401 when listing subjects: Unauthorized \(error_code 40101\)/,
    );
    assert.match(error.hint ?? '', /RELAY_SCHEMA_REGISTRY_USERNAME/);
  });

  it('takes 404 on lookup as "not registered" and on versions as "no such subject"', async () => {
    answer = (_req, res) => json(res, 404, { error_code: 40401, message: 'Subject not found' });
    const client = createRegistryClient({ url: base });
    assert.equal(await client.lookup('orders-value', '"string"'), null);
    assert.deepEqual(await client.versions('orders-value'), []);
  });

  it('reads every version, oldest first, by number', async () => {
    answer = (req, res) => {
      if (req.url === '/subjects/a%2Fb/versions') return json(res, 200, [2, 1]);
      const version = /\/versions\/(\d+)$/.exec(req.url)?.[1];
      json(res, 200, { subject: 'a/b', version: Number(version), id: 1, schema: `"v${version}"` });
    };
    const client = createRegistryClient({ url: base });
    assert.deepEqual(await client.versions('a/b'), ['"v1"', '"v2"']);
  });

  it('retries 5xx, 429 and no answer; refuses 409 and 422 with what the registry said', async () => {
    const client = createRegistryClient({ url: base, timeoutMs: 200 });
    for (const status of [500, 503, 429]) {
      answer = (_req, res) => json(res, status, { error_code: status * 100, message: 'busy' });
      assert.equal((await refusal(client.register(`s${status}`, '"int"'))).retriable, true);
    }
    answer = (_req, res) =>
      json(res, 409, { error_code: 409, message: 'Schema being registered is incompatible' });
    const conflict = await refusal(client.register('s409', '"int"'));
    assert.equal(conflict.retriable, false);
    assert.match(
      conflict.message,
      /409 when registering a schema under "s409": Schema being registered is incompatible/,
    );
    answer = (_req, res) => json(res, 422, { error_code: 42201, message: 'Invalid schema' });
    assert.equal((await refusal(client.register('s422', '"int"'))).retriable, false);

    answer = () => undefined; // never answers
    const silent = await refusal(client.subjects());
    assert.equal(silent.retriable, true);
    assert.match(silent.message, /no answer within 200 ms/);

    const down = createRegistryClient({ url: 'http://127.0.0.1:9' });
    assert.equal((await refusal(down.subjects())).retriable, true);
  });

  it('refuses an answer that is not the Confluent API', async () => {
    answer = (_req, res) => json(res, 200, { artifactId: 'x' });
    const error = await refusal(createRegistryClient({ url: base }).register('s', '"int"'));
    assert.match(error.message, /not what the Confluent API returns/);
  });
});
