/**
 * The Confluent Schema Registry wire format: magic byte 0, the schema's registry id as 4 bytes
 * big-endian, then the Avro body. Consumers decode it with any Confluent-compatible Avro
 * deserializer, which fetches the writer schema by id.
 *
 * Encoding stays synchronous on the hot path: the first value of a (subject, schema) pair is
 * written with its id left blank while the id is registered or looked up in the background;
 * `ready()` fills in the blanks, and the encoder's `seal()`, the only way from an encoded value
 * to a sendable record (sealed.ts), awaits it before every produce request. So a value never
 * reaches Kafka without its id, and a registry that is down holds up publishing (retried like a
 * broker outage), never the ordering.
 */
import type avro from 'avsc';
import { RelayError } from '../domain/errors.ts';
import type { WireFormat, WritableSchema } from './encoder.ts';

export const CONFLUENT_MAGIC = 0;
export const CONFLUENT_HEADER_LENGTH = 5;

export type SubjectStrategy = 'topic' | 'record' | 'topic-record';
export const SUBJECT_STRATEGIES: readonly SubjectStrategy[] = ['topic', 'record', 'topic-record'];

/** The subject a schema is registered under: Confluent's TopicName, RecordName, TopicRecordName. */
export function subjectName(
  strategy: SubjectStrategy,
  topic: string,
  fullName: string,
  part: 'key' | 'value' = 'value',
): string {
  switch (strategy) {
    case 'topic':
      return `${topic}-${part}`;
    case 'record':
      return fullName;
    case 'topic-record':
      return `${topic}-${fullName}`;
  }
}

/** What the wire format needs from a registry client. */
export interface RegistryIds {
  /** Registers the schema under the subject (or finds it registered) and returns its id. */
  register(subject: string, schema: string): Promise<number>;
  /** The id of the schema under the subject, or null when it is not registered. */
  lookup(subject: string, schema: string): Promise<number | null>;
}

export interface RegistryWireFormatOptions {
  registry: RegistryIds;
  strategy: SubjectStrategy;
  /** Register schemas not yet known (true), or only look them up and fail when missing. */
  autoRegister: boolean;
  /** Checked once per subject before the first registration; throws to refuse the schema. */
  beforeRegister?: (subject: string, schema: WritableSchema) => Promise<void>;
}

/** One (subject, schema): its id once known, and the values waiting for it. */
interface SubjectSchema {
  id: number | null;
  waiting: Buffer[];
  resolving: Promise<void> | null;
  readonly subject: string;
  readonly schema: WritableSchema;
}

const INITIAL_SCRATCH_BYTES = 16 * 1024;

export function registryWireFormat(options: RegistryWireFormatOptions): WireFormat {
  const entries = new Map<string, SubjectSchema>();
  const unresolved = new Set<SubjectSchema>();
  const writers = new Map<SubjectSchema, (value: unknown) => Buffer>();

  const resolve = (entry: SubjectSchema): Promise<void> => {
    entry.resolving ??= idFor(options, entry).then(
      (id) => {
        entry.id = id;
        for (const buffer of entry.waiting) buffer.writeUInt32BE(id, 1);
        entry.waiting = [];
        unresolved.delete(entry);
      },
      (error: unknown) => {
        entry.resolving = null; // the next ready() tries again
        throw error;
      },
    );
    return entry.resolving;
  };

  return {
    writer(schema, topic, part = 'value') {
      const subject = subjectName(options.strategy, topic, schema.fullName, part);
      const key = `${subject}\u0000${schema.fingerprint}`;
      let entry = entries.get(key);
      if (!entry) {
        entry = { id: null, waiting: [], resolving: null, subject, schema };
        entries.set(key, entry);
        unresolved.add(entry);
        resolve(entry).catch(() => undefined); // surfaced by ready()
      }
      let write = writers.get(entry);
      if (!write) writers.set(entry, (write = confluentWriter(schema.type, entry)));
      return write;
    },
    async ready() {
      if (unresolved.size === 0) return;
      await Promise.all([...unresolved].map(resolve));
    },
  };
}

async function idFor(options: RegistryWireFormatOptions, entry: SubjectSchema): Promise<number> {
  const { subject, schema } = entry;
  // A schema already under the subject is used as it is, whatever came after it there.
  const id = await options.registry.lookup(subject, schema.text);
  if (id !== null) return id;
  if (!options.autoRegister) {
    throw new RelayError(
      'REGISTRY',
      `the schema ${schema.fullName} is not registered under subject "${subject}", and auto-registration is off`,
      {
        hint: 'Register it (your schema pipeline, or RELAY_SCHEMA_REGISTRY_AUTO_REGISTER=true), then restart; `outbox-relay schemas check` shows what differs.',
      },
    );
  }
  await options.beforeRegister?.(subject, schema);
  return options.registry.register(subject, schema.text);
}

/** Writes [0, id, body] into one scratch buffer and copies it out: one allocation per value. */
function confluentWriter(type: avro.Type, entry: SubjectSchema): (value: unknown) => Buffer {
  let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH_BYTES);
  return (value) => {
    let end = type.encode(value, scratch, CONFLUENT_HEADER_LENGTH);
    if (end < 0) {
      scratch = Buffer.allocUnsafe(2 * (scratch.length - end));
      end = type.encode(value, scratch, CONFLUENT_HEADER_LENGTH);
    }
    const out = Buffer.from(scratch.subarray(0, end));
    out[0] = CONFLUENT_MAGIC;
    if (entry.id === null) {
      out.writeUInt32BE(0, 1);
      entry.waiting.push(out);
    } else {
      out.writeUInt32BE(entry.id, 1);
    }
    return out;
  };
}

/** Splits a Confluent-framed message; throws RelayError('DECODE') if it is not one. */
export function readConfluentFrame(message: Buffer): { id: number; body: Buffer } {
  if (message.length < CONFLUENT_HEADER_LENGTH || message[0] !== CONFLUENT_MAGIC) {
    const start = message.subarray(0, 1).toString('hex') || 'nothing';
    throw new RelayError('DECODE', `not the Confluent wire format: starts ${start}, not 00`);
  }
  return { id: message.readUInt32BE(1), body: message.subarray(CONFLUENT_HEADER_LENGTH) };
}
