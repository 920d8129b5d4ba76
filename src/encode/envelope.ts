/**
 * The envelope: the one Avro record (schemas/outbox-envelope.avsc) every event is published as.
 * Field names are snake_case, as consumers in other languages see them.
 */
import avro from 'avsc';
import type { OutboxEvent } from '../domain/event.ts';
import { avroTypeOptions } from './logical-types.ts';
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

/**
 * The envelope with optional string fields appended (RELAY_ADDITIONAL_COLUMNS with the
 * `envelope` placement), each `["null", "string"]` with default null: a reader of the plain
 * envelope ignores them, and a reader of this one reads old records with null there, so the
 * change is compatible both ways (a registry accepts it as a new version of the same subject).
 */
export function extendedEnvelopeSchema(fields: readonly string[]): EnvelopeSchema {
  if (fields.length === 0) return envelopeSchema();
  const base = envelopeSchema().type.schema({ exportAttrs: true }) as avro.schema.RecordType;
  const extra = fields.map((name) => ({
    name,
    type: ['null', 'string'],
    default: null,
    doc: `The outbox column placed here by RELAY_ADDITIONAL_COLUMNS; null for SQL NULL.`,
  }));
  const type = avro.Type.forSchema(
    { ...base, fields: [...base.fields, ...extra] },
    avroTypeOptions(),
  );
  return Object.freeze({ type, fingerprint: schemaFingerprint(type) });
}

export function toEnvelopeRecord(
  event: OutboxEvent,
  fields: readonly string[] = [],
): EnvelopeRecord {
  if (fields.length > 0) {
    const record: Record<string, unknown> = { ...toEnvelopeRecord(event) };
    for (const name of fields) record[name] = event.envelopeFields?.[name] ?? null;
    return record as unknown as EnvelopeRecord;
  }
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
