/**
 * Avro single-object encoding (Avro specification, "Single-object encoding"):
 *
 *   C3 01 | CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form, 8 bytes LE | body
 *
 * The fingerprint lets a reader pick the writer's schema without a registry.
 */
import type avro from 'avsc';
import { RelayError } from '../domain/errors.ts';
import { crc64Avro } from './crc64-avro.ts';

export const SINGLE_OBJECT_MARKER: Readonly<Buffer> = Buffer.from([0xc3, 0x01]);
export const SINGLE_OBJECT_HEADER_LENGTH = 10;

// Big enough for a typical event; the scratch buffer grows to the largest event seen.
const INITIAL_SCRATCH_BYTES = 16 * 1024;

/**
 * The schema's Parsing Canonical Form. avsc's `schema()` without attributes already drops docs,
 * defaults, aliases and logical types, uses full names and orders keys as the form requires;
 * the tests hold it to Apache Avro Java's `SchemaNormalization.toParsingForm`.
 */
export function parsingCanonicalForm(type: avro.Type): string {
  return JSON.stringify(type.schema());
}

export function schemaFingerprint(type: avro.Type): bigint {
  return crc64Avro(parsingCanonicalForm(type));
}

export function singleObjectHeader(fingerprint: bigint): Buffer {
  const header = Buffer.alloc(SINGLE_OBJECT_HEADER_LENGTH);
  SINGLE_OBJECT_MARKER.copy(header, 0);
  header.writeBigUInt64LE(fingerprint, SINGLE_OBJECT_MARKER.length);
  return header;
}

/** The writer schema's fingerprint; throws RelayError('DECODE') if `message` is not one. */
export function readSingleObjectFingerprint(message: Buffer): bigint {
  const hasMarker = message.length >= SINGLE_OBJECT_HEADER_LENGTH && message[0] === 0xc3;
  if (!hasMarker || message[1] !== 0x01) {
    const start = message.subarray(0, 2).toString('hex') || 'nothing';
    throw new RelayError('DECODE', `not Avro single-object encoding: starts ${start}, not c301`, {
      hint: 'The message was not written by outbox-relay, or by a writer with another wire format.',
    });
  }
  return message.readBigUInt64LE(SINGLE_OBJECT_MARKER.length);
}

/**
 * Returns a function that encodes values of `type` as single objects. It writes into one scratch
 * buffer that already holds the header, then copies out the message: one allocation per value.
 * Not reentrant, which is fine: encoding is synchronous.
 */
export function createSingleObjectWriter(type: avro.Type): (value: unknown) => Buffer {
  const header = singleObjectHeader(schemaFingerprint(type));
  let scratch = Buffer.allocUnsafe(INITIAL_SCRATCH_BYTES);
  header.copy(scratch, 0);
  return (value) => {
    let end = type.encode(value, scratch, SINGLE_OBJECT_HEADER_LENGTH);
    if (end < 0) {
      // avsc returns minus the number of bytes that did not fit.
      scratch = Buffer.allocUnsafe(2 * (scratch.length - end));
      header.copy(scratch, 0);
      end = type.encode(value, scratch, SINGLE_OBJECT_HEADER_LENGTH);
    }
    return Buffer.from(scratch.subarray(0, end));
  };
}
