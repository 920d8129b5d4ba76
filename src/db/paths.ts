/** Where the package's own files are, from src/ or from a compiled dist/ alike. */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MIGRATIONS_DIR = join(PACKAGE_ROOT, 'migrations');
