// @ts-check
import tseslint from 'typescript-eslint';
import { importsGoDown } from './eslint-layers.js';

// kafkajs is unmaintained: keep it, and the experimental @platformatic/kafka producer, behind the
// adapter in src/publish/ so the client can be replaced.
const KAFKA_ADAPTER = [
  'src/publish/kafka.ts',
  'src/publish/kafka-inspect.ts',
  'src/publish/kafkajs-internals.ts',
  'src/publish/kafka-platformatic.ts',
];
const KAFKAJS = {
  paths: ['kafkajs', '@platformatic/kafka'].map((name) => ({
    name,
    message: 'Use the adapter in src/publish/kafka.ts.',
  })),
  patterns: [
    {
      group: ['kafkajs/*', '@platformatic/kafka/*'],
      message: 'Use the adapter in src/publish/kafka.ts.',
    },
  ],
};
// node-postgres stays behind the adapter in src/db/: one place decides each connection's settings
// and asks about slots, and only src/db/replication-client.ts touches pg internals.
const PG_ADAPTER = ['src/db/**'];
const PG = {
  paths: [{ name: 'pg', message: 'Use the adapter in src/db/ (client.ts, slots.ts).' }],
  // A regex, not a group: gitignore-style 'pg-*' would also match ../domain/pg-epoch.ts.
  patterns: [{ regex: '^pg[-/]', message: 'Use the adapter in src/db/ (client.ts, slots.ts).' }],
};

/** @param {...{ paths: object[], patterns: object[] }} restrictions */
function restrictImports(...restrictions) {
  return [
    'error',
    {
      paths: restrictions.flatMap((r) => r.paths),
      patterns: restrictions.flatMap((r) => r.patterns),
    },
  ];
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.cache/'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test runs top-level test() calls itself; their promises are not ours to await.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  // Each rule below lists every restriction that applies to its files: a later object's
  // no-restricted-imports replaces an earlier one's instead of adding to it.
  {
    files: ['src/**/*.ts'],
    ignores: [...KAFKA_ADAPTER, ...PG_ADAPTER],
    rules: { 'no-restricted-imports': restrictImports(KAFKAJS, PG) },
  },
  {
    files: KAFKA_ADAPTER,
    rules: { 'no-restricted-imports': restrictImports(PG) },
  },
  {
    files: PG_ADAPTER,
    rules: { 'no-restricted-imports': restrictImports(KAFKAJS) },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // One room per kind of work, and no import runs back up: see LAYERS in eslint-layers.js.
    files: ['src/**/*.ts'],
    plugins: { layers: { rules: { 'imports-go-down': importsGoDown } } },
    rules: { 'layers/imports-go-down': 'error' },
  },
  {
    files: ['eslint-layers.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
