/**
 * Loads the Avro schemas that ship in the package's schemas/ folder. The package root is found
 * from this module's own URL, so the same code works from src/ (run as TypeScript) and from the
 * compiled dist/, whatever the working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { RelayError } from '../domain/errors.ts';
import { avroTypeOptions } from './logical-types.ts';

/** The nearest folder above this module that holds a package.json: the package root. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) {
      throw new RelayError('INTERNAL', `no package.json above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
  return dir;
}

/** Reads and parses one schema file, `relativePath` being relative to the package root. */
export function loadSchemaFile(relativePath: string): avro.Type {
  const path = join(packageRoot(), relativePath);
  try {
    const schema = JSON.parse(readFileSync(path, 'utf8')) as avro.Schema;
    return avro.Type.forSchema(schema, avroTypeOptions());
  } catch (error) {
    throw new RelayError('INTERNAL', `cannot load the Avro schema ${path}`, {
      cause: error,
      hint: 'The schemas/ folder ships with outbox-relay: reinstall the package, or fix the file.',
    });
  }
}
