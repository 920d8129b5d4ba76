import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnvelopeEncoder, createEventEncoder } from '../../../src/encode/encoder.ts';
import {
  readConfluentFrame,
  registryWireFormat,
} from '../../../src/encode/registry-wire-format.ts';
import type { KafkaRecord } from '../../../src/publish/kafka.ts';
import { sampleEvent } from './sample-event.ts';

test('an encoded value fits a Kafka record only after seal(), which hands back the same records', async () => {
  const encoder = createEnvelopeEncoder();
  const value = encoder.encodeValue(sampleEvent());
  // @ts-expect-error: an unsealed value is not sendable; `npm run check` fails if this compiles
  const unsent: KafkaRecord = { topic: 'orders', key: null, value, headers: {} };
  const records = [{ topic: 'orders', key: 'order-1', value, headers: {} }];
  const sealed = await encoder.seal(records);
  const sendable: readonly KafkaRecord[] = sealed;
  assert.equal(sendable[0], records[0], 'sealing allocates nothing');
  assert.equal(unsent.value, value);
});

test('seal() resolves only once the registry id of every value so far is filled in', async () => {
  let answer: (id: number) => void = () => undefined;
  const encoder = createEventEncoder({
    wireFormat: registryWireFormat({
      registry: {
        lookup: () => new Promise<number>((resolve) => (answer = resolve)),
        register: () => Promise.reject(new Error('not asked')),
      },
      strategy: 'topic',
      autoRegister: true,
    }),
  });
  const value = encoder.encodeValue(sampleEvent(), 'orders');
  assert.equal(readConfluentFrame(value).id, 0, 'written before the id is known');
  const sealing = encoder.seal([{ topic: 'orders', key: null, value, headers: {} }]);
  answer(42);
  const [record] = await sealing;
  assert.equal(readConfluentFrame(record?.value ?? Buffer.alloc(0)).id, 42);
});
