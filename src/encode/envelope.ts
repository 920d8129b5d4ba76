/**
 * The envelope: the one Avro record (schemas/outbox-envelope.avsc) every event is published as.
 * Field names are snake_case, as consumers in other languages see them.
 */
import type avro from 'avsc';
import type { OutboxEvent } from '../domain/event.ts';
import { loadSchemaFile } from './schema-file.ts';
import { schemaFingerprint } from './single-object.ts';

export const ENVELOPE_SCHEMA_PATH = 'schemas/outbox-envelope.avsc';

/** An envelope as avsc writes and reads it. */
export interface EnvelopeRecord {
  readonly event_id: string;
  readonly event_type: string;
  readonly aggregate_type: string;
  readonly aggregate_id: string;
  /** Microseconds since the Unix epoch, exact. */
  readonly created_at: bigint;
  /** JSON text, exactly as stored in the outbox row. */
  readonly payload: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface EnvelopeSchema {
  readonly type: avro.Type;
  readonly fingerprint: bigint;
}

let loaded: EnvelopeSchema | undefined;

/** The envelope schema, read from disk on first use and kept for the life of the process. */
export function envelopeSchema(): EnvelopeSchema {
  if (loaded === undefined) {
    const type = loadSchemaFile(ENVELOPE_SCHEMA_PATH);
    loaded = Object.freeze({ type, fingerprint: schemaFingerprint(type) });
  }
  return loaded;
}

export function toEnvelopeRecord(event: OutboxEvent): EnvelopeRecord {
  return {
    event_id: event.id,
    event_type: event.eventType,
    aggregate_type: event.aggregateType,
    aggregate_id: event.aggregateId,
    created_at: event.createdAtMicros,
    payload: event.payload,
    headers: event.headers,
  };
}
