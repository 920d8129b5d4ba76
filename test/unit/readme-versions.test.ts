import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/db/paths.ts';
import { EMBEDDED_VERSIONS, TESTED_MAJORS } from '../../scripts/services/pg-binaries.ts';

const START = '<!-- postgres-versions:start -->';
const END = '<!-- postgres-versions:end -->';

/** The README's version table: [major, the test file its row names]. */
function tableRows(): [number, string][] {
  const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  assert.ok(start >= 0 && end > start, `README.md lacks the ${START} ... ${END} table`);
  return readme
    .slice(start + START.length, end)
    .trim()
    .split('\n')
    .slice(2)
    .map((line) => {
      const [version = '', file = ''] = line
        .split('|')
        .slice(1)
        .map((cell) => cell.trim());
      return [Number(version), file.replaceAll('`', '')];
    });
}

function versionFiles(): string[] {
  return readdirSync(join(PACKAGE_ROOT, 'test', 'versions'))
    .filter((name) => /^postgres-\d+\.test\.ts$/.test(name))
    .map((name) => `test/versions/${name}`)
    .sort();
}

test('the README lists each PostgreSQL version file once, and names only files that exist', () => {
  const rows = tableRows();
  assert.deepEqual(rows.map(([, file]) => file).sort(), versionFiles());
  for (const [major, file] of rows) assert.equal(file, `test/versions/postgres-${major}.test.ts`);
});

test('every tested version has a version file and binaries the harness can fetch', () => {
  const majors = versionFiles().map((file) => Number(/postgres-(\d+)/.exec(file)?.[1]));
  assert.deepEqual(majors, [...TESTED_MAJORS]);
  for (const major of TESTED_MAJORS) assert.ok(EMBEDDED_VERSIONS[major], `no package for ${major}`);
});
