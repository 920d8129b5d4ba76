import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { envelopeSchema } from '../../../src/encode/envelope.ts';
import { avroTypeOptions } from '../../../src/encode/logical-types.ts';
import {
  createSingleObjectWriter,
  parsingCanonicalForm,
  readSingleObjectFingerprint,
  schemaFingerprint,
  singleObjectHeader,
} from '../../../src/encode/single-object.ts';

// From Apache Avro Java 1.12.0: SchemaNormalization.toParsingForm / parsingFingerprint64 of
// schemas/outbox-envelope.avsc. If the schema changes, regenerate both and think about consumers.
const JAVA_ENVELOPE_CANONICAL_FORM =
  '{"name":"io.outboxrelay.OutboxEvent","type":"record","fields":[' +
  '{"name":"event_id","type":"string"},{"name":"event_type","type":"string"},' +
  '{"name":"aggregate_type","type":"string"},{"name":"aggregate_id","type":"string"},' +
  '{"name":"created_at","type":"long"},{"name":"payload","type":"string"},' +
  '{"name":"headers","type":{"type":"map","values":"string"}}]}';
const JAVA_ENVELOPE_FINGERPRINT = 0xe7216d86dcf1624dn;

describe('single-object encoding', () => {
  it('builds the header C3 01 then the fingerprint little-endian, as the Avro spec shows for "int"', () => {
    const header = singleObjectHeader(schemaFingerprint(avro.Type.forSchema('int')));
    assert.equal(header.toString('hex'), 'c3018f5c393f1ad57572');
  });

  it("derives the envelope's canonical form and fingerprint exactly as Apache Avro Java does", () => {
    const { type, fingerprint } = envelopeSchema();
    assert.equal(parsingCanonicalForm(type), JAVA_ENVELOPE_CANONICAL_FORM);
    assert.equal(fingerprint, JAVA_ENVELOPE_FINGERPRINT);
  });

  it('leaves docs, defaults and logical types out of the canonical form and qualifies names', () => {
    const schema = {
      type: 'record',
      name: 'R',
      namespace: 'n',
      doc: 'dropped',
      fields: [
        { name: 'a', type: { type: 'long', logicalType: 'timestamp-micros' }, default: 0 },
        { name: 'b', type: { type: 'enum', name: 'E', symbols: ['X'] }, doc: 'dropped' },
      ],
    } as avro.Schema;
    const canonical = parsingCanonicalForm(avro.Type.forSchema(schema, avroTypeOptions()));
    const expected =
      '{"name":"n.R","type":"record","fields":[{"name":"a","type":"long"},' +
      '{"name":"b","type":{"name":"n.E","type":"enum","symbols":["X"]}}]}';
    assert.equal(canonical, expected);
  });

  it('reads the fingerprint back from a header', () => {
    const message = Buffer.concat([singleObjectHeader(0x0102030405060708n), Buffer.from([0])]);
    assert.equal(readSingleObjectFingerprint(message), 0x0102030405060708n);
  });

  it('rejects a message without the C3 01 marker or shorter than a header, as DECODE', () => {
    for (const message of [
      Buffer.from('00000000000000000000', 'hex'),
      Buffer.from('c301', 'hex'),
    ]) {
      assert.throws(() => readSingleObjectFingerprint(message), {
        name: 'RelayError',
        code: 'DECODE',
        message: /not Avro single-object encoding/,
      });
    }
  });

  it('grows its scratch buffer for a value larger than any before and encodes it whole', () => {
    const write = createSingleObjectWriter(avro.Type.forSchema('string'));
    const big = 'x'.repeat(100_000);
    const message = write(big);
    assert.equal(avro.Type.forSchema('string').fromBuffer(message.subarray(10)), big);
    assert.equal(write('small').length, 10 + 1 + 5);
  });

  it('returns messages that do not share memory with the next one', () => {
    const write = createSingleObjectWriter(avro.Type.forSchema('string'));
    const first = write('first');
    write('other');
    assert.equal(first.subarray(11).toString(), 'first');
  });
});
