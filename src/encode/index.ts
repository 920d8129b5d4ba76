/** The encode stage's public surface: what the pipeline, the demo and tests import. */
export { createEnvelopeEncoder, type EventEncoder } from './encoder.ts';
export { decodeEnvelope, parseEnvelopePayload, type DecodedEnvelope } from './decoder.ts';
export { envelopeSchema, ENVELOPE_SCHEMA_PATH, type EnvelopeRecord } from './envelope.ts';
export { SINGLE_OBJECT_HEADER_LENGTH, SINGLE_OBJECT_MARKER } from './single-object.ts';
