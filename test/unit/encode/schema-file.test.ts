import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ENVELOPE_SCHEMA_PATH } from '../../../src/encode/envelope.ts';
import { loadSchemaFile, packageRoot } from '../../../src/encode/schema-file.ts';

interface SchemaField {
  name: string;
  doc?: string;
}

describe('schema files', () => {
  it('finds the package root from the module itself, whatever the working directory', () => {
    const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
      name: string;
    };
    assert.equal(manifest.name, 'outbox-relay');
  });

  it('documents the envelope record and every one of its fields', () => {
    const path = join(packageRoot(), ENVELOPE_SCHEMA_PATH);
    const schema = JSON.parse(readFileSync(path, 'utf8')) as {
      doc?: string;
      fields: SchemaField[];
    };
    assert.ok(schema.doc);
    const undocumented = schema.fields.filter((field) => !field.doc).map((field) => field.name);
    assert.deepEqual(undocumented, []);
  });

  it('reports a missing schema file as an INTERNAL error naming the path', () => {
    assert.throws(() => loadSchemaFile('schemas/no-such.avsc'), {
      name: 'RelayError',
      code: 'INTERNAL',
      message: /schemas\/no-such\.avsc/,
    });
  });
});
