/**
 * Renders the README's configuration table from the settings schema, so the docs cannot name a
 * setting that does not exist or miss one that does.
 *
 *   node scripts/docs-config.ts          rewrite the table in README.md
 *   node scripts/docs-config.ts --check  exit 1 if README.md's table differs
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SETTINGS, type SettingSpec } from '../src/config/schema.ts';

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
  return [['Variable', 'Flag', 'Default', 'Description'], ['---', '---', '---', '---'], ...rows]
    .map((cells) => `|${cells.map((cell) => (cell ? ` ${escapeCell(cell)} ` : ' ')).join('|')}|`)
    .join('\n')
    .concat('\n');
}

/** The text between the markers, or null when the README has no (well-ordered) markers. */
export function readRegion(readme: string): string | null {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) return null;
  return readme.slice(start + START_MARKER.length, end);
}

/** What goes between the markers: the table, with blank lines around it. */
export function renderRegion(table: string = renderConfigTable()): string {
  return `\n\n${table}\n`;
}

/** The README with the region between the markers replaced by the rendered one. */
export function replaceRegion(readme: string, region: string = renderRegion()): string {
  if (readRegion(readme) === null) throw new Error(missingMarkers());
  const start = readme.indexOf(START_MARKER) + START_MARKER.length;
  return readme.slice(0, start) + region + readme.slice(readme.indexOf(END_MARKER));
}

/** Whether the README's region is the rendered one, blank lines at its edges aside. */
export function regionMatches(readme: string, region: string = renderRegion()): boolean {
  return readRegion(readme)?.trim() === region.trim();
}

export function missingMarkers(): string {
  return `README.md has no configuration table markers: add "${START_MARKER}" and "${END_MARKER}" where the table belongs, then ${RUN_ME}`;
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
  if (readRegion(readme) === null) {
    console.error(missingMarkers());
    return 1;
  }
  if (args.includes('--check')) {
    if (regionMatches(readme)) return 0;
    console.error(`README.md's configuration table differs from src/config/schema.ts: ${RUN_ME}`);
    return 1;
  }
  const updated = replaceRegion(readme);
  if (updated !== readme) writeFileSync(README_PATH, updated);
  console.log(updated === readme ? 'README.md is up to date' : 'README.md table rewritten');
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
