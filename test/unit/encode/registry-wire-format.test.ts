import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RelayError } from '../../../src/domain/errors.ts';
import { createEventEncoder } from '../../../src/encode/encoder.ts';
import {
  readConfluentFrame,
  registryWireFormat,
  subjectName,
  type RegistryIds,
} from '../../../src/encode/registry-wire-format.ts';
import { loadSchemaDirectory } from '../../../src/encode/schema-directory.ts';
import { sampleEvent } from './sample-event.ts';

const schemas = loadSchemaDirectory('test/fixtures/schemas');

/** Hands out ids in order; `down` makes every call fail as an unreachable registry would. */
function fakeRegistry() {
  const ids = new Map<string, number>();
  const calls: string[] = [];
  const registry: RegistryIds & { down: boolean } = {
    down: false,
    register(subject, schema) {
      calls.push(`register ${subject}`);
      if (registry.down)
        return Promise.reject(new RelayError('REGISTRY', 'down', { retriable: true }));
      const key = `${subject}|${schema}`;
      if (!ids.has(key)) ids.set(key, ids.size + 1);
      return Promise.resolve(ids.get(key) ?? 0);
    },
    lookup(subject, schema) {
      calls.push(`lookup ${subject}`);
      return Promise.resolve(ids.get(`${subject}|${schema}`) ?? null);
    },
  };
  return { registry, calls };
}

const cancelled = (orderId: string) =>
  sampleEvent({ eventType: 'OrderCancelled', payload: JSON.stringify({ orderId }) });

describe('Confluent wire format', () => {
  it('names subjects by the three usual strategies', () => {
    assert.equal(subjectName('topic', 'orders', 'com.x.OrderPlaced'), 'orders-value');
    assert.equal(subjectName('topic', 'orders', 'com.x.OrderPlaced', 'key'), 'orders-key');
    assert.equal(subjectName('record', 'orders', 'com.x.OrderPlaced'), 'com.x.OrderPlaced');
    assert.equal(
      subjectName('topic-record', 'orders', 'com.x.OrderPlaced'),
      'orders-com.x.OrderPlaced',
    );
  });

  it('writes magic 0 and the id, filling in ids registered after the value was encoded', async () => {
    const { registry, calls } = fakeRegistry();
    const encoder = createEventEncoder({
      schemas,
      wireFormat: registryWireFormat({ registry, strategy: 'topic-record', autoRegister: true }),
    });
    const first = encoder.encodeValue(cancelled('a'), 'orders');
    const second = encoder.encodeValue(cancelled('b'), 'orders');
    await encoder.ready?.();
    const third = encoder.encodeValue(cancelled('c'), 'orders');
    for (const value of [first, second, third]) {
      const { id, body } = readConfluentFrame(value);
      assert.equal(id, 1);
      const decoded = schemas.get('OrderCancelled')?.type.fromBuffer(body) as { orderId: string };
      assert.ok(['a', 'b', 'c'].includes(decoded.orderId));
    }
    assert.deepEqual(calls, [
      'lookup orders-com.example.orders.OrderCancelled',
      'register orders-com.example.orders.OrderCancelled',
    ]);
  });

  it('keeps values waiting while the registry is down and completes them once it answers', async () => {
    const { registry } = fakeRegistry();
    registry.down = true;
    const encoder = createEventEncoder({
      schemas,
      wireFormat: registryWireFormat({ registry, strategy: 'record', autoRegister: true }),
    });
    const value = encoder.encodeValue(cancelled('a'), 'orders');
    await assert.rejects(encoder.ready?.() ?? Promise.resolve(), /down/);
    registry.down = false;
    await encoder.ready?.();
    assert.equal(readConfluentFrame(value).id, 1);
  });

  it('only looks schemas up when auto-registration is off, and says so when one is missing', async () => {
    const { registry, calls } = fakeRegistry();
    const encoder = createEventEncoder({
      schemas,
      wireFormat: registryWireFormat({ registry, strategy: 'topic', autoRegister: false }),
    });
    encoder.encodeValue(cancelled('a'), 'orders');
    await assert.rejects(encoder.ready?.() ?? Promise.resolve(), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.match(
        error.message,
        /not registered under subject "orders-value", and auto-registration is off/,
      );
      return true;
    });
    assert.deepEqual(calls, ['lookup orders-value']);
  });

  it('refuses a message that is not in the wire format', () => {
    assert.throws(
      () => readConfluentFrame(Buffer.from([0xc3, 1, 2, 3, 4, 5])),
      /not the Confluent wire format/,
    );
  });
});

describe('Avro keys', () => {
  it('encodes the aggregate id as an Avro string under the key subject', async () => {
    const { registry, calls } = fakeRegistry();
    const encoder = createEventEncoder({
      schemas,
      avroKeys: true,
      wireFormat: registryWireFormat({ registry, strategy: 'topic', autoRegister: true }),
    });
    const key = encoder.encodeKey?.('ord-42', 'orders');
    assert.ok(key);
    await encoder.ready?.();
    const { id, body } = readConfluentFrame(key);
    assert.equal(id, 1);
    assert.equal(body.toString('hex'), '0c' + Buffer.from('ord-42').toString('hex'));
    assert.deepEqual(calls, ['lookup orders-key', 'register orders-key']);
    assert.equal('encodeKey' in createEventEncoder({ schemas }), false);
  });
});
