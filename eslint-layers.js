// @ts-check
// The local lint rule layers/imports-go-down, used by eslint.config.js.
import path from 'node:path';

/**
 * The layers of src/, lowest first (README, "Development"). A folder imports from itself and from
 * folders in lower rows only: never up a row, and never across its own row, so the stages in a
 * row know nothing of each other and only pipeline/ wires them together.
 */
export const LAYERS = [
  ['domain'],
  ['ops', 'route', 'ack'],
  ['config'],
  ['db', 'decode', 'encode'],
  ['source', 'publish'],
  ['admin'],
  ['pipeline'],
  ['cli'],
];
const LAYER_OF = new Map(LAYERS.flatMap((row, rank) => row.map((folder) => [folder, rank])));
const SRC = path.join(import.meta.dirname, 'src');

/** The folder under src/ that holds a file, '' for a file directly in src/, or undefined. */
function srcFolder(/** @type {string} */ file) {
  const relative = path.relative(SRC, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  const parts = relative.split(path.sep);
  return parts.length > 1 ? parts[0] : '';
}

/** Why `from` may not import `to`, or undefined when it may. */
function layerProblem(/** @type {string} */ from, /** @type {string} */ to) {
  const order = LAYERS.map((row) => row.join(', ')).join(' < ');
  const unplaced = [from, to].find((folder) => !LAYER_OF.has(folder));
  if (unplaced !== undefined) {
    return `src/${unplaced} is in no layer: add it to LAYERS in eslint-layers.js (${order})`;
  }
  const fromRank = Number(LAYER_OF.get(from));
  const toRank = Number(LAYER_OF.get(to));
  if (toRank < fromRank) return undefined;
  const where = toRank === fromRank ? 'its own layer' : 'a higher layer';
  return `src/${from} may not import src/${to}, ${where}: imports go down the layers only (${order}). Move what both need to a lower layer, often src/domain.`;
}

/** @type {import('eslint').Rule.RuleModule} */
export const importsGoDown = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports between folders of src/ go down the layers in LAYERS only.' },
    schema: [],
  },
  create(context) {
    const from = srcFolder(context.filename);
    if (from === undefined) return {};
    /** @param {import('estree').Node} node @param {unknown} specifier */
    const check = (node, specifier) => {
      if (typeof specifier !== 'string' || !specifier.startsWith('.')) return;
      const to = srcFolder(path.resolve(path.dirname(context.filename), specifier));
      if (to === undefined || to === from) return;
      const message = layerProblem(from, to);
      if (message) context.report({ node, message });
    };
    /** @param {{ source?: import('estree').Node | null }} node */
    const fromSource = (node) => {
      if (node.source?.type === 'Literal') check(node.source, node.source.value);
    };
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: fromSource,
      // `import('../x.ts').T` in a type is a dependency too.
      TSImportType: fromSource,
    };
  },
};
