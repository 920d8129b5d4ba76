/**
 * Renders the README's generated tables from the code that defines what they list, so the docs
 * cannot name a setting or a code that does not exist or miss one that does: the configuration
 * table from the settings schema, the exit-code table from the CLI's exit codes, the error table
 * from the error codes.
 *
 *   node scripts/docs-config.ts          rewrite the tables in README.md
 *   node scripts/docs-config.ts --check  exit 1 if one of README.md's tables differs
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SETTINGS, type SettingSpec } from '../src/config/schema.ts';
import { EXIT, EXIT_MEANINGS } from '../src/cli/common.ts';
import { ERROR_CODES, type ErrorCodeDoc } from '../src/domain/errors.ts';

/** One generated table: where it sits in the README, what it is rendered from, and how. */
export interface DocTable {
  /** What the table lists, for messages: "configuration table". */
  readonly name: string;
  /** The file the table is rendered from, for messages. */
  readonly source: string;
  readonly start: string;
  readonly end: string;
  render(): string;
}

export const START_MARKER = '<!-- config-table:start -->';
export const END_MARKER = '<!-- config-table:end -->';
export const README_PATH = fileURLToPath(new URL('../README.md', import.meta.url));
const RUN_ME = 'run `npm run docs:config`';

/** The Markdown table, one row per setting in declaration order, ending in a newline. */
export function renderConfigTable(settings: Readonly<Record<string, SettingSpec>> = SETTINGS) {
  const rows = Object.values(settings).map((spec) => [
    code(spec.env),
    spec.flag ? code(`--${spec.flag}`) : '',
    spec.default === undefined ? 'required' : code(spec.default),
    spec.doc,
  ]);
  return markdownTable(['Variable', 'Flag', 'Default', 'Description'], rows);
}

/** The Markdown table of exit codes, one row per code in ascending order. */
export function renderExitTable(): string {
  const rows = (Object.keys(EXIT) as (keyof typeof EXIT)[])
    .sort((a, b) => EXIT[a] - EXIT[b])
    .map((name) => [code(String(EXIT[name])), EXIT_MEANINGS[name]]);
  return markdownTable(['Exit', 'Meaning'], rows);
}

/** The Markdown table of error codes, one row per code in declaration order. */
export function renderErrorTable(
  codes: Readonly<Record<string, ErrorCodeDoc>> = ERROR_CODES,
): string {
  const rows = Object.entries(codes).map(([name, doc]) => [code(name), doc.meaning, doc.fix]);
  return markdownTable(['Code', 'Meaning', 'What to do'], rows);
}

export const CONFIG_TABLE: DocTable = {
  name: 'configuration table',
  source: 'src/config/schema.ts',
  start: START_MARKER,
  end: END_MARKER,
  render: () => renderConfigTable(),
};

export const EXIT_TABLE: DocTable = {
  name: 'exit-code table',
  source: 'src/cli/common.ts',
  start: '<!-- exit-codes:start -->',
  end: '<!-- exit-codes:end -->',
  render: renderExitTable,
};

export const ERROR_TABLE: DocTable = {
  name: 'error table',
  source: 'src/domain/errors.ts',
  start: '<!-- error-codes:start -->',
  end: '<!-- error-codes:end -->',
  render: () => renderErrorTable(),
};

export const TABLES: readonly DocTable[] = [CONFIG_TABLE, EXIT_TABLE, ERROR_TABLE];

/** The text between the markers, or null when the README has no (well-ordered) markers. */
export function readRegion(readme: string, table: DocTable = CONFIG_TABLE): string | null {
  const start = readme.indexOf(table.start);
  const end = readme.indexOf(table.end);
  if (start < 0 || end < start) return null;
  return readme.slice(start + table.start.length, end);
}

/** What goes between the markers: the table, with blank lines around it. */
export function renderRegion(rendered: string = renderConfigTable()): string {
  return `\n\n${rendered}\n`;
}

/** The README with the region between the markers replaced by the rendered one. */
export function replaceRegion(
  readme: string,
  region: string = renderRegion(),
  table: DocTable = CONFIG_TABLE,
): string {
  if (readRegion(readme, table) === null) throw new Error(missingMarkers(table));
  const start = readme.indexOf(table.start) + table.start.length;
  return readme.slice(0, start) + region + readme.slice(readme.indexOf(table.end));
}

/** Whether the README's region is the rendered one, blank lines at its edges aside. */
export function regionMatches(
  readme: string,
  region: string = renderRegion(),
  table: DocTable = CONFIG_TABLE,
): boolean {
  return readRegion(readme, table)?.trim() === region.trim();
}

export function missingMarkers(table: DocTable = CONFIG_TABLE): string {
  return `README.md has no ${table.name} markers: add "${table.start}" and "${table.end}" where the table belongs, then ${RUN_ME}`;
}

export function differs(table: DocTable): string {
  return `README.md's ${table.name} differs from ${table.source}: ${RUN_ME}`;
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [header, header.map(() => '---'), ...rows]
    .map((cells) => `|${cells.map((cell) => (cell ? ` ${escapeCell(cell)} ` : ' ')).join('|')}|`)
    .join('\n')
    .concat('\n');
}

function code(text: string): string {
  return `\`${text}\``;
}

// A pipe would end the cell early; Markdown has no line breaks inside a table row.
function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll(/\s*\n\s*/g, ' ');
}

function main(args: readonly string[]): number {
  if (!existsSync(README_PATH)) {
    console.error(`${README_PATH} does not exist: write it with the table markers first`);
    return 1;
  }
  const readme = readFileSync(README_PATH, 'utf8');
  const missing = TABLES.filter((table) => readRegion(readme, table) === null);
  for (const table of missing) console.error(missingMarkers(table));
  if (missing.length > 0) return 1;
  if (args.includes('--check')) {
    const stale = TABLES.filter(
      (table) => !regionMatches(readme, renderRegion(table.render()), table),
    );
    for (const table of stale) console.error(differs(table));
    return stale.length > 0 ? 1 : 0;
  }
  const updated = TABLES.reduce(
    (text, table) => replaceRegion(text, renderRegion(table.render()), table),
    readme,
  );
  if (updated !== readme) writeFileSync(README_PATH, updated);
  console.log(updated === readme ? 'README.md is up to date' : 'README.md tables rewritten');
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
