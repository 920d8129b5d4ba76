/**
 * The per-event-type schemas: a directory of .avsc files, `<event type>.avsc` each, so that the
 * file `OrderPlaced.avsc` describes the payload of events whose event_type is `OrderPlaced`.
 * Each file holds one self-contained record schema. They are read once, at start; a file that
 * does not parse stops the relay naming the file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import avro from 'avsc';
import { RelayError } from '../domain/errors.ts';
import { avroTypeOptions } from './logical-types.ts';
import { schemaFingerprint } from './single-object.ts';

export const SCHEMA_DIR_SETTING = 'RELAY_SCHEMA_DIR';

export interface EventSchema {
  readonly eventType: string;
  readonly file: string;
  readonly type: avro.Type;
  /** namespace.name of the record, for the record-name subject strategies. */
  readonly fullName: string;
  /** The schema as JSON text with its logical types, as a registry stores it. */
  readonly text: string;
  /** CRC-64-AVRO of the Parsing Canonical Form, for single-object encoding. */
  readonly fingerprint: bigint;
}

/** avsc options for event schemas: unions stay wrapped, so no two branches are ever confused. */
export function eventSchemaOptions(): Partial<avro.ForSchemaOptions> {
  return { ...avroTypeOptions(), wrapUnions: true };
}

/** Parses one event schema; throws RelayError('CONFIG_INVALID') naming the file. */
export function parseEventSchema(eventType: string, file: string, text: string): EventSchema {
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(JSON.parse(text) as avro.Schema, eventSchemaOptions());
  } catch (error) {
    throw schemaError(file, (error as Error).message);
  }
  if (type.typeName !== 'record' || !type.name) {
    throw schemaError(file, `the top-level schema must be a named record, not ${type.typeName}`);
  }
  return Object.freeze({
    eventType,
    file,
    type,
    fullName: type.name,
    text: JSON.stringify(type.schema({ exportAttrs: true })),
    fingerprint: schemaFingerprint(type),
  });
}

/** Every `<event type>.avsc` in `dir`, keyed by event type. */
export function loadSchemaDirectory(dir: string): ReadonlyMap<string, EventSchema> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.avsc'));
  } catch (error) {
    throw new RelayError(
      'CONFIG_INVALID',
      `${SCHEMA_DIR_SETTING}: cannot read ${dir}: ${(error as Error).message}`,
      {
        cause: error,
        hint: `Set ${SCHEMA_DIR_SETTING} to a directory of <event type>.avsc files, or leave it empty to publish every event in the generic envelope.`,
      },
    );
  }
  if (files.length === 0) {
    throw new RelayError('CONFIG_INVALID', `${SCHEMA_DIR_SETTING}: ${dir} holds no .avsc file`, {
      hint: `Add one <event type>.avsc per event type, or leave ${SCHEMA_DIR_SETTING} empty.`,
    });
  }
  const schemas = new Map<string, EventSchema>();
  for (const name of files.sort()) {
    const file = join(dir, name);
    const eventType = basename(name, '.avsc');
    schemas.set(eventType, parseEventSchema(eventType, file, readFileSync(file, 'utf8')));
  }
  return schemas;
}

function schemaError(file: string, problem: string): RelayError {
  return new RelayError(
    'CONFIG_INVALID',
    `${SCHEMA_DIR_SETTING}: ${file} is not a usable Avro schema: ${problem}`,
    {
      hint: 'Fix the file (one record schema per event type), or remove it.',
    },
  );
}
