// ESLint: typescript-eslint's recommended rules, and Nx module boundaries that enforce DESIGN.md's rules
// of the house through project tags:
//   - libs never import services or apps; a service never imports another service;
//   - generated contracts import nothing of ours; test helpers are for tests only.
import { readdirSync } from 'node:fs';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** The services, one per folder of services/ (each project tagged scope:<folder>). */
const SERVICES = readdirSync(new URL('./services', import.meta.url)).sort();

const boundaries = (extra = []) => [
  'error',
  {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints: [
      { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
      { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib', 'type:contracts', ...extra] },
      { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:lib', 'type:contracts'] },
      { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib', 'type:contracts', ...extra] },
      {
        sourceTag: 'type:app',
        onlyDependOnLibsWithTags: ['type:app', 'type:service', 'type:lib', 'type:contracts', ...extra],
      },
      { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
      // One scope per folder of services/: a service reaches only its own code and the shared libs.
      ...SERVICES.map((name) => ({
        sourceTag: `scope:${name}`,
        onlyDependOnLibsWithTags: [`scope:${name}`, 'scope:shared'],
      })),
      {
        sourceTag: 'scope:app',
        onlyDependOnLibsWithTags: ['scope:app', 'scope:shared', ...SERVICES.map((n) => `scope:${n}`)],
      },
    ],
  },
];

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'libs/contracts/src/gen/**', '.nx/**', '**/build/**', 'dist/**'] },
  ...nx.configs['flat/base'],
  ...tseslint.configs.recommended,
  // Layout is the formatter's (Prettier, checked in CI); ESLint keeps to correctness.
  prettier,
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries(),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': 'off',
    },
  },
  {
    // Span names, event names and attribute keys come from libs/telemetry's one list (SpanName, Attr,
    // EventName), never from a string literal: dashboards and tests depend on them.
    files: ['**/*.ts'],
    ignores: ['libs/telemetry/src/names.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'Literal[value=/^floe\\.[a-z_]+(\\.[a-z_]+)*$/]',
          message: 'Span, event and attribute names come from @floe/telemetry (SpanName, EventName, Attr).',
        },
        {
          selector: 'TemplateElement[value.raw=/^floe\\.[a-z_]+\\./]',
          message: 'Span, event and attribute names come from @floe/telemetry (SpanName, EventName, Attr).',
        },
      ],
    },
  },
  {
    // Tests may use the test helpers, and so may benchmarks (throwaway servers, a throwaway PostgreSQL).
    files: ['**/test/**/*.ts', 'apps/bench/**/*.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(['type:testing']) },
  },
);
