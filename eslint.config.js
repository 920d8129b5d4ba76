// @ts-check
import tseslint from 'typescript-eslint';
import { importsGoDown } from './eslint-layers.js';

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
  {
    // kafkajs is unmaintained: keep it behind the adapter in src/publish/ so it can be replaced.
    files: ['src/**/*.ts'],
    ignores: [
      'src/publish/kafka.ts',
      'src/publish/kafka-inspect.ts',
      'src/publish/kafkajs-internals.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'kafkajs', message: 'Use the adapter in src/publish/kafka.ts.' }],
          patterns: [{ group: ['kafkajs/*'], message: 'Use the adapter in src/publish/kafka.ts.' }],
        },
      ],
    },
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
