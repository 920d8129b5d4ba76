import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { SETTINGS } from '../../src/config/schema.ts';
import { EXIT } from '../../src/cli/common.ts';
import { ERROR_CODES } from '../../src/domain/errors.ts';
import {
  differs,
  END_MARKER,
  ERROR_TABLE,
  EXIT_TABLE,
  missingMarkers,
  README_PATH,
  readRegion,
  regionMatches,
  renderConfigTable,
  renderErrorTable,
  renderExitTable,
  renderRegion,
  replaceRegion,
  START_MARKER,
} from '../../scripts/docs-config.ts';

/** The table's body rows, split into trimmed cells. */
function rows(table: string): string[][] {
  return table
    .trim()
    .split('\n')
    .slice(2)
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
}

test('the configuration table lists every setting once, in schema order', () => {
  const table = renderConfigTable();
  assert.match(table, /^\| Variable \| Flag \| Default \| Description \|\n\| --- \|/);
  assert.deepEqual(
    rows(table).map(([variable]) => variable),
    Object.values(SETTINGS).map((spec) => `\`${spec.env}\``),
  );
});

test('the configuration table shows flags with dashes, "required" and the doc text', () => {
  const byVariable = new Map(rows(renderConfigTable()).map((cells) => [cells[0], cells]));
  assert.deepEqual(byVariable.get('`RELAY_PG_URL`'), [
    '`RELAY_PG_URL`',
    '`--pg-url`',
    'required',
    SETTINGS.pgUrl.doc,
  ]);
  assert.deepEqual(byVariable.get('`RELAY_TOPIC_PARTITIONS`'), [
    '`RELAY_TOPIC_PARTITIONS`',
    '',
    '`6`',
    SETTINGS.topicPartitions.doc,
  ]);
});

test('the configuration table escapes pipes and keeps each row on one line', () => {
  const table = renderConfigTable({
    odd: { env: 'ODD', schema: z.string(), default: 'a|b', doc: 'one | two\nthree' },
  });
  assert.deepEqual(rows(table), [['`ODD`', '', '`a\\|b`', 'one \\| two three']]);
  assert.equal(table.trim().split('\n').length, 3);
});

test('rewrites only the region between the markers, and a second run changes nothing', () => {
  const readme = `# Relay\n\nBefore.\n\n${START_MARKER}\nstale table\n${END_MARKER}\n\nAfter.\n`;
  const once = replaceRegion(readme);
  assert.ok(once.startsWith('# Relay\n\nBefore.\n\n'));
  assert.ok(once.endsWith(`${END_MARKER}\n\nAfter.\n`));
  assert.doesNotMatch(once, /stale table/);
  assert.equal(readRegion(once), renderRegion());
  assert.equal(replaceRegion(once), once);
  assert.equal(regionMatches(once), true);
  assert.equal(regionMatches(readme), false);
});

test('refuses to rewrite a README without the markers, saying how to add them', () => {
  assert.throws(() => replaceRegion('# Relay\n'), /config-table:start.*npm run docs:config/);
  assert.equal(readRegion(`${END_MARKER}\n${START_MARKER}`), null, 'markers out of order');
});

test("README.md's configuration table matches src/config/schema.ts", () => {
  const readme = existsSync(README_PATH) ? readFileSync(README_PATH, 'utf8') : '';
  assert.ok(readRegion(readme) !== null, missingMarkers());
  assert.ok(
    regionMatches(readme),
    "README.md's configuration table differs from src/config/schema.ts: run `npm run docs:config`",
  );
});

test('the exit-code table lists every exit code once, in ascending order', () => {
  assert.deepEqual(
    rows(renderExitTable()).map(([exit]) => exit),
    [...new Set(Object.values(EXIT))].sort((a, b) => a - b).map((n) => `\`${n}\``),
  );
});

test("README.md's exit-code table matches src/cli/common.ts", () => {
  const readme = existsSync(README_PATH) ? readFileSync(README_PATH, 'utf8') : '';
  assert.ok(readRegion(readme, EXIT_TABLE) !== null, missingMarkers(EXIT_TABLE));
  assert.ok(
    regionMatches(readme, renderRegion(EXIT_TABLE.render()), EXIT_TABLE),
    differs(EXIT_TABLE),
  );
});

test('the error table gives every error code its meaning and fix, in declaration order', () => {
  const table = rows(renderErrorTable());
  assert.deepEqual(
    table.map(([name]) => name),
    Object.keys(ERROR_CODES).map((name) => `\`${name}\``),
  );
  for (const [name, meaning, fix] of table) {
    assert.ok(meaning && fix, `${name} has no meaning or no fix`);
  }
});

test("README.md's error table matches src/domain/errors.ts", () => {
  const readme = existsSync(README_PATH) ? readFileSync(README_PATH, 'utf8') : '';
  assert.ok(readRegion(readme, ERROR_TABLE) !== null, missingMarkers(ERROR_TABLE));
  assert.ok(
    regionMatches(readme, renderRegion(ERROR_TABLE.render()), ERROR_TABLE),
    differs(ERROR_TABLE),
  );
});
