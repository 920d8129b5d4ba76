/**
 * Reads what the envelope encoder writes: for tests, the demo and consumers written in
 * TypeScript. Consumers in other languages use any Avro library's single-object decoder.
 */
import type avro from 'avsc';
import { RelayError } from '../domain/errors.ts';
import { envelopeSchema, type EnvelopeRecord } from './envelope.ts';
import { readSingleObjectFingerprint, SINGLE_OBJECT_HEADER_LENGTH } from './single-object.ts';

export type DecodedEnvelope = EnvelopeRecord;

function fingerprintHex(fingerprint: bigint): string {
  return `0x${fingerprint.toString(16).padStart(16, '0')}`;
}

/** The schema that wrote a message, by fingerprint; only the envelope so far. */
function writerType(fingerprint: bigint): avro.Type {
  const envelope = envelopeSchema();
  if (fingerprint !== envelope.fingerprint) {
    throw new RelayError(
      'DECODE',
      `unknown Avro schema fingerprint ${fingerprintHex(fingerprint)}: the outbox envelope's ` +
        `is ${fingerprintHex(envelope.fingerprint)}`,
      { hint: 'The writer used another schema or schema version; decode with that schema.' },
    );
  }
  return envelope.type;
}

/** Checks the single-object header and returns the envelope (created_at as exact bigint micros). */
export function decodeEnvelope(message: Buffer): DecodedEnvelope {
  const type = writerType(readSingleObjectFingerprint(message));
  try {
    return type.fromBuffer(message.subarray(SINGLE_OBJECT_HEADER_LENGTH)) as DecodedEnvelope;
  } catch (error) {
    throw new RelayError('DECODE', `corrupt outbox envelope: ${String(error)}`, { cause: error });
  }
}

/** The envelope's payload, parsed from its JSON text. */
export function parseEnvelopePayload(envelope: Pick<DecodedEnvelope, 'payload'>): unknown {
  return JSON.parse(envelope.payload);
}
