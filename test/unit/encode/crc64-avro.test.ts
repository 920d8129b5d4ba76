import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CRC64_AVRO_EMPTY, crc64Avro } from '../../../src/encode/crc64-avro.ts';

// Computed with Apache Avro Java 1.12.0, SchemaNormalization.parsingFingerprint64, over each
// schema's Parsing Canonical Form. "int", "string" and "null" also appear in Avro's own tests.
const VECTORS: ReadonlyArray<readonly [canonicalForm: string, fingerprint: bigint]> = [
  ['"null"', 0x63dd24e7cc258f8an],
  ['"boolean"', 0x9f42fc78a4d4f764n],
  ['"int"', 0x7275d51a3f395c8fn],
  ['"long"', 0xd054e14493f41db7n],
  ['"float"', 0x4d7c02cb3ea8d790n],
  ['"double"', 0x8e7535c032ab957en],
  ['"bytes"', 0x4fc016dac3201965n],
  ['"string"', 0x8f014872634503c7n],
  ['{"type":"map","values":"string"}', 0x86ce965d92864572n],
  ['{"name":"Test","type":"record","fields":[{"name":"f","type":"long"}]}', 0x8e58ebe6f5e594edn],
  ['{"name":"Test","type":"fixed","size":1}', 0x5b3549407b896968n],
];

describe('crc64Avro', () => {
  for (const [canonicalForm, fingerprint] of VECTORS) {
    it(`fingerprints ${canonicalForm} as Apache Avro Java does`, () => {
      assert.equal(crc64Avro(canonicalForm), fingerprint);
    });
  }

  it('returns the EMPTY constant for no input', () => {
    assert.equal(crc64Avro(''), CRC64_AVRO_EMPTY);
  });

  it('fingerprints a string by its UTF-8 bytes', () => {
    const text = '{"name":"Événement","type":"fixed","size":1}';
    assert.equal(crc64Avro(text), crc64Avro(Buffer.from(text, 'utf8')));
  });
});
