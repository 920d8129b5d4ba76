/**
 * Turns an event into its Kafka record value. The relay's hot path: one record object and one
 * output buffer per event, nothing else allocated when the input is valid.
 */
import type avro from 'avsc';
import { RelayError } from '../domain/errors.ts';
import type { OutboxEvent } from '../domain/event.ts';
import { envelopeSchema, toEnvelopeRecord } from './envelope.ts';
import { avroTypeLabel } from './logical-types.ts';
import { createSingleObjectWriter } from './single-object.ts';

/**
 * Encodes events for Kafka. Implementations may choose a schema per event type or register
 * schemas with a registry; the pipeline only sees this.
 */
export interface EventEncoder {
  /** Encodes the event's value. Throws RelayError('ENCODE', ...) naming the event id on bad input. */
  encodeValue(event: OutboxEvent): Buffer;
}

/** Every event as the envelope record, in Avro single-object encoding. */
export function createEnvelopeEncoder(): EventEncoder {
  const { type } = envelopeSchema();
  const write = createSingleObjectWriter(type);
  return {
    encodeValue(event) {
      const record = toEnvelopeRecord(event);
      try {
        return write(record);
      } catch (error) {
        throw encodeError(type, record, event.id, error);
      }
    },
  };
}

/** Names the fields avsc rejected (its own message names a type, not a field). */
function encodeError(type: avro.Type, record: object, eventId: string, cause: unknown): RelayError {
  const problems: string[] = [];
  type.isValid(record, {
    errorHook: (path: string[], value: unknown, fieldType: avro.Type) => {
      problems.push(
        `${path.join('.')} is not a valid ${avroTypeLabel(fieldType)} (got ${typeof value})`,
      );
    },
  });
  const detail = problems.length > 0 ? problems.join('; ') : String(cause);
  return new RelayError('ENCODE', `cannot Avro-encode event ${eventId}: ${detail}`, { cause });
}
