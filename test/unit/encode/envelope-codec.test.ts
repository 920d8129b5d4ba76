import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createEnvelopeEncoder,
  decodeEnvelope,
  parseEnvelopePayload,
} from '../../../src/encode/index.ts';
import { sampleEvent } from './sample-event.ts';

// sampleEvent() encoded by Apache Avro Java 1.12.0's BinaryMessageEncoder (GenericRecord over
// schemas/outbox-envelope.avsc): the relay's messages must be byte-identical to Java's.
const JAVA_SINGLE_OBJECT_HEX =
  'c3014d62f1dc866d21e7' +
  '48' +
  '35663063336238652d316132622d346333642d386539662d306131623263336434653566' +
  '16' +
  '4f72646572506c61636564' +
  '0a' +
  '6f72646572' +
  '18' +
  '6f72642dc3a9e4b8ad2d3432' +
  '8280808080808020' +
  '40' +
  '7b22746f74616c223a2031322e352c20226e6f7465223a2022636166c3a9227d' +
  '02' +
  '0a7472616365' +
  '06616263' +
  '00';

const encoder = createEnvelopeEncoder();

describe('envelope encoder and decoder', () => {
  it('writes exactly the bytes Apache Avro Java writes for the same event', () => {
    assert.equal(encoder.encodeValue(sampleEvent()).toString('hex'), JAVA_SINGLE_OBJECT_HEX);
  });

  it('round-trips every field of an event', () => {
    const event = sampleEvent({ headers: { trace: 'abc', tenant: 'ß' } });
    assert.deepEqual(
      { ...decodeEnvelope(encoder.encodeValue(event)) },
      {
        event_id: event.id,
        event_type: event.eventType,
        aggregate_type: event.aggregateType,
        aggregate_id: event.aggregateId,
        created_at: event.createdAtMicros,
        payload: event.payload,
        headers: { ...event.headers },
      },
    );
  });

  it('keeps created_at exact to the microsecond beyond 2^53 and at the ends of the long range', () => {
    const instants = [2n ** 53n + 1n, 2n ** 62n + 7n, -(2n ** 63n), 2n ** 63n - 1n, -1n, 0n];
    for (const createdAtMicros of instants) {
      const decoded = decodeEnvelope(encoder.encodeValue(sampleEvent({ createdAtMicros })));
      assert.equal(decoded.created_at, createdAtMicros);
    }
  });

  it('carries the payload JSON text byte for byte, without re-encoding it', () => {
    const payload = '{ "b":1,  "a" : "\\u00e9\\n", "n": 1.50, "big": 12345678901234567890 }';
    const decoded = decodeEnvelope(encoder.encodeValue(sampleEvent({ payload })));
    assert.equal(decoded.payload, payload);
    assert.deepEqual(parseEnvelopePayload(decoded), JSON.parse(payload));
  });

  it('encodes an event without headers as an empty map', () => {
    const decoded = decodeEnvelope(encoder.encodeValue(sampleEvent({ headers: {} })));
    assert.deepEqual({ ...decoded.headers }, {});
  });

  it('rejects an event id that is not a UUID with an ENCODE error naming the event and field', () => {
    assert.throws(() => encoder.encodeValue(sampleEvent({ id: 'order-17' })), {
      name: 'RelayError',
      code: 'ENCODE',
      message: /event order-17: event_id is not a valid uuid/,
    });
  });

  it('rejects a created_at that is a number rather than a bigint, naming the field', () => {
    const event = sampleEvent({ createdAtMicros: 1_700_000_000_000_000 as unknown as bigint });
    assert.throws(() => encoder.encodeValue(event), {
      code: 'ENCODE',
      message: new RegExp(`event ${event.id}: created_at is not a valid timestamp-micros`),
    });
  });

  it('rejects a null payload or a non-string header value, naming the field', () => {
    const badPayload = sampleEvent({ payload: null as unknown as string });
    assert.throws(() => encoder.encodeValue(badPayload), { message: /payload is not a valid/ });
    const badHeader = sampleEvent({ headers: { retries: 3 as unknown as string } });
    assert.throws(() => encoder.encodeValue(badHeader), { message: /headers.retries is not/ });
  });

  it('stays usable after rejecting an event', () => {
    assert.throws(() => encoder.encodeValue(sampleEvent({ id: 'bad' })));
    const event = sampleEvent();
    assert.equal(decodeEnvelope(encoder.encodeValue(event)).event_id, event.id);
  });

  it('refuses a message written with another schema, naming both fingerprints', () => {
    const message = encoder.encodeValue(sampleEvent());
    message.writeBigUInt64LE(0x1122334455667788n, 2);
    assert.throws(() => decodeEnvelope(message), {
      name: 'RelayError',
      code: 'DECODE',
      message: /unknown Avro schema fingerprint 0x1122334455667788.*is 0xe7216d86dcf1624d/,
    });
  });

  it('refuses a truncated message as a corrupt envelope', () => {
    const message = encoder.encodeValue(sampleEvent());
    assert.throws(() => decodeEnvelope(message.subarray(0, message.length - 5)), {
      code: 'DECODE',
      message: /corrupt outbox envelope/,
    });
  });
});
