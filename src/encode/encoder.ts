/**
 * Turns an event into its Kafka record value. The relay's hot path: one record object and one
 * output buffer per event, nothing else allocated when the input is valid.
 *
 * An event whose type has a schema in RELAY_SCHEMA_DIR is its payload encoded with that schema;
 * any other event is the generic envelope (schemas/outbox-envelope.avsc), or a dead letter when
 * RELAY_EVENTS_WITHOUT_SCHEMA says so. How a value names its schema (single-object encoding, or
 * a registry's id) is the wire format's business.
 */
import avro from 'avsc';
import { RelayError } from '../domain/errors.ts';
import type { OutboxEvent } from '../domain/event.ts';
import { extendedEnvelopeSchema, toEnvelopeRecord, type EnvelopeSchema } from './envelope.ts';
import { jsonToAvro, parseJsonExact, PayloadMismatch } from './json-to-avro.ts';
import { avroTypeLabel } from './logical-types.ts';
import type { EventSchema } from './schema-directory.ts';
import type { Sealed, Unsealed } from './sealed.ts';
import { createSingleObjectWriter, schemaFingerprint } from './single-object.ts';

/**
 * Encodes events for Kafka. Implementations may choose a schema per event type or register
 * schemas with a registry; the pipeline only sees this.
 */
export interface EventEncoder {
  /**
   * Encodes the event's value for `topic`. Throws EncodeFailure naming the event and the reason
   * when the event cannot be encoded (it is then dead-lettered).
   */
  encodeValue(event: OutboxEvent, topic?: string): Unsealed;
  /** Present with RELAY_KEY_FORMAT=avro: the aggregate id as an Avro string, framed as values are. */
  encodeKey?(aggregateId: string, topic: string): Unsealed;
  /**
   * Resolves once every value returned so far is complete (a registry's schema id may be
   * filled in later); rejects with the registry's error. Absent: values are complete at once.
   */
  ready?(): Promise<void>;
  /**
   * As ready(), then gives back `records`, the same objects, typed as sendable: the one way
   * from what encodeValue and encodeKey return to a KafkaRecord.
   */
  seal<R extends SealableRecord>(records: readonly R[]): Promise<Sealed<R>[]>;
}

/** A record whose key and value an EventEncoder may have written. */
export interface SealableRecord {
  readonly key: unknown;
  readonly value: unknown;
}

/** Why an event could not be encoded; its `reason` goes into the dead letter's headers. */
export type EncodeFailureReason =
  'schema-mismatch' | 'unknown-event-type' | 'malformed-payload' | 'unencodable';

export class EncodeFailure extends RelayError {
  readonly reason: EncodeFailureReason;
  constructor(
    reason: EncodeFailureReason,
    message: string,
    options: { cause?: unknown; hint?: string } = {},
  ) {
    super('ENCODE', message, options);
    this.reason = reason;
  }
}

/** The dead-letter reason for an error thrown by encodeValue. */
export function encodeFailureReason(error: unknown): EncodeFailureReason {
  return error instanceof EncodeFailure ? error.reason : 'unencodable';
}

/** Writes a value of a schema in the wire format; `topic` matters to registry subjects only. */
export interface WireFormat {
  writer(schema: WritableSchema, topic: string, part?: 'key' | 'value'): (value: unknown) => Buffer;
  /** As EventEncoder.ready. */
  ready?(): Promise<void>;
}

export type WritableSchema = Pick<EventSchema, 'type' | 'text' | 'fullName' | 'fingerprint'>;

/** Avro single-object encoding: the schema's fingerprint in every message, no registry. */
export function singleObjectWireFormat(): WireFormat {
  const writers = new Map<avro.Type, (value: unknown) => Buffer>();
  return {
    writer(schema) {
      let write = writers.get(schema.type);
      if (!write) writers.set(schema.type, (write = createSingleObjectWriter(schema.type)));
      return write;
    },
  };
}

export interface EventEncoderOptions {
  /** Event type to schema; empty or absent: every event in the envelope. */
  schemas?: ReadonlyMap<string, EventSchema>;
  /** What an event whose type has no schema becomes. */
  withoutSchema?: 'envelope' | 'dead-letter';
  wireFormat?: WireFormat;
  /** Keys as Avro strings in the wire format, instead of plain UTF-8. */
  avroKeys?: boolean;
  /** Optional string fields appended to the envelope (RELAY_ADDITIONAL_COLUMNS, `envelope`). */
  envelopeFields?: readonly string[];
}

export const WITHOUT_SCHEMA_SETTING = 'RELAY_EVENTS_WITHOUT_SCHEMA';

export function createEventEncoder(options: EventEncoderOptions = {}): EventEncoder {
  const schemas = options.schemas ?? new Map<string, EventSchema>();
  const wireFormat = options.wireFormat ?? singleObjectWireFormat();
  const fields = options.envelopeFields ?? [];
  const envelope = extendedEnvelopeSchema(fields);
  const envelopeWritable: WritableSchema = {
    type: envelope.type,
    text: JSON.stringify(envelope.type.schema({ exportAttrs: true })),
    fullName: envelope.type.name ?? 'io.outboxrelay.OutboxEvent',
    fingerprint: envelope.fingerprint,
  };
  const ready = async () => wireFormat.ready?.();
  return {
    encodeValue(event, topic = '') {
      const schema = schemas.get(event.eventType);
      if (schema) return unsealed(encodeTyped(event, schema, wireFormat.writer(schema, topic)));
      if (options.withoutSchema === 'dead-letter') throw noSchema(event);
      const write = wireFormat.writer(envelopeWritable, topic);
      return unsealed(encodeEnvelope(event, envelope, fields, write));
    },
    ...(options.avroKeys
      ? {
          encodeKey: (aggregateId: string, topic: string) =>
            unsealed(wireFormat.writer(KEY_SCHEMA, topic, 'key')(aggregateId)),
        }
      : {}),
    ...(wireFormat.ready ? { ready } : {}),
    async seal<R extends SealableRecord>(records: readonly R[]) {
      await ready();
      // Every value written so far is complete now, these records' among them.
      return records as unknown as Sealed<R>[];
    },
  };
}

/** Marks what the wire format wrote: until seal(), it may hold a blank schema id. */
function unsealed(bytes: Buffer): Unsealed {
  return bytes as Unsealed;
}

/** The key schema with RELAY_KEY_FORMAT=avro: the aggregate id as an Avro string. */
const KEY_SCHEMA: WritableSchema = (() => {
  const type = avro.Type.forSchema('string');
  return { type, text: '"string"', fullName: 'string', fingerprint: schemaFingerprint(type) };
})();

/** Every event as the envelope record, in Avro single-object encoding. */
export function createEnvelopeEncoder(): EventEncoder {
  return createEventEncoder();
}

function encodeEnvelope(
  event: OutboxEvent,
  envelope: EnvelopeSchema,
  fields: readonly string[],
  write: (value: unknown) => Buffer,
): Buffer {
  const record = toEnvelopeRecord(event, fields);
  try {
    return write(record);
  } catch (error) {
    throw encodeError(envelope.type, record, event.id, error);
  }
}

function encodeTyped(
  event: OutboxEvent,
  schema: EventSchema,
  write: (value: unknown) => Buffer,
): Buffer {
  let json: unknown;
  try {
    json = parseJsonExact(event.payload);
  } catch (error) {
    if (error instanceof PayloadMismatch) throw schemaMismatch(event, schema, error); // too deep
    throw new EncodeFailure(
      'malformed-payload',
      `event ${event.id}: the payload is not JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let value: unknown;
  try {
    value = jsonToAvro(schema.type, json);
  } catch (error) {
    if (!(error instanceof PayloadMismatch)) throw error;
    throw schemaMismatch(event, schema, error);
  }
  try {
    return write(value);
  } catch (error) {
    throw new EncodeFailure(
      'schema-mismatch',
      `event ${event.id}: cannot Avro-encode with ${schema.file}: ${String(error)}`,
      { cause: error },
    );
  }
}

function schemaMismatch(
  event: OutboxEvent,
  schema: EventSchema,
  error: PayloadMismatch,
): EncodeFailure {
  return new EncodeFailure(
    'schema-mismatch',
    `event ${event.id} (${event.eventType}) does not match ${schema.file}: ${error.message}`,
    {
      hint: 'Fix the writing service, or evolve the schema; the event is in the dead-letter topic.',
    },
  );
}

function noSchema(event: OutboxEvent): EncodeFailure {
  return new EncodeFailure(
    'unknown-event-type',
    `event ${event.id}: no schema for event type ${JSON.stringify(event.eventType)} in RELAY_SCHEMA_DIR`,
    {
      hint: `Add ${event.eventType}.avsc, or set ${WITHOUT_SCHEMA_SETTING}=envelope to publish such events in the generic envelope.`,
    },
  );
}

/** Names the fields avsc rejected (its own message names a type, not a field). */
function encodeError(
  type: avro.Type,
  record: object,
  eventId: string,
  cause: unknown,
): EncodeFailure {
  const problems: string[] = [];
  type.isValid(record, {
    errorHook: (path: string[], value: unknown, fieldType: avro.Type) => {
      problems.push(
        `${path.join('.')} is not a valid ${avroTypeLabel(fieldType)} (got ${typeof value})`,
      );
    },
  });
  const detail = problems.length > 0 ? problems.join('; ') : String(cause);
  return new EncodeFailure('unencodable', `cannot Avro-encode event ${eventId}: ${detail}`, {
    cause,
  });
}

/**
 * RELAY_VALUE_FORMAT=raw: the value is the payload column's text in UTF-8, as a String or JSON
 * converter of Debezium's would send it; keys stay plain UTF-8.
 */
export function createRawEncoder(): EventEncoder {
  return {
    encodeValue: (event) => unsealed(Buffer.from(event.payload, 'utf8')),
    // Complete at once: no schema id to wait for.
    seal: <R extends SealableRecord>(records: readonly R[]) =>
      Promise.resolve(records as unknown as Sealed<R>[]),
  };
}
