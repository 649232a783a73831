// ESLint (flat config): typescript-eslint's recommended rules without type information (fast),
// and Nx's module-boundary rule on the projects' tags. Every rule is an error or off: a run
// either passes or names what to fix.
//
// Tags (in each project.json; test/ and tools/ are Nx projects too, so the rule covers them):
//
//   type:app   apps/*. Deployable services and the CLI. Nothing imports an app.
//   type:io    libs that talk to the world or to Nest: messaging, persistence, host, shares,
//              telemetry, service-kit, testbed, and config (it reads process.env and exits the
//              process on bad configuration, so it is not pure).
//   type:pure  libs without I/O and without Nest: contracts, domain, util, zfs (argv builders and
//              output parsers; the zfs/zpool processes run in host-executor).
//   type:test  test/ (end-to-end tests and their support code).
//   type:tool  tools/ (demo, bench, events-doc, the runtime path resolver), and examples/ (integrators'
//              examples: scope:shared, so they never lean on the testbed).
//
//   scope:testbed  test-only code: libs/testbed, test/, tools/. Shipped code (every other scope)
//                  may not depend on it; test files anywhere (TEST_FILES below) may.
//
// Allowed dependencies:
//   type:app  -> type:io, type:pure      (never another app)
//   type:io   -> type:io, type:pure
//   type:pure -> type:pure only, and no I/O packages (nats, typeorm, pg, execa, ssh2, express,
//                @nestjs/*, OpenTelemetry SDK/exporters) nor I/O node built-ins (fs, child_process,
//                sockets, os...); node:net's isIP* helpers are allowed. Unit tests of pure libs
//                may use the built-ins (e.g. to read a fixture file).
//   type:test, type:tool -> type:io, type:pure
//
// Also enforced: a lib is imported through its index only (`@tandem/x`, never `@tandem/x/...`), and
// never by a relative path across a project boundary (Nx reports those).
//
// The Nx rule reads the project graph Nx caches in .nx/workspace-data: `npm run lint` refreshes it
// first, and this file refuses to run with a missing or outdated one (see below).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import { readCachedProjectGraph } from '@nx/devkit';
import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/** Every Nx project of the workspace: apps/*, libs/*, test, tools, examples (a folder without project.json is reported below). */
const projects = [...['apps', 'libs'].flatMap((dir) => readdirSync(join(root, dir)).map((name) => `${dir}/${name}`)), 'test', 'tools', 'examples'].map((dir) => {
  const file = join(root, dir, 'project.json');
  return { dir, tags: existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')).tags ?? []) : null };
});

const TYPES = ['type:app', 'type:io', 'type:pure', 'type:test', 'type:tool'];
const SHIPPED_SCOPES = ['scope:shared', 'scope:cluster', 'scope:edge', 'scope:node'];
const SCOPES = [...SHIPPED_SCOPES, 'scope:testbed'];

// A project with an unknown or missing tag would slip past the constraints below: say so at once.
const untagged = projects.filter((p) => !p.tags || p.tags.filter((t) => TYPES.includes(t)).length !== 1 || p.tags.filter((t) => SCOPES.includes(t)).length !== 1);
if (untagged.length) {
  throw new Error(
    `eslint.config.mjs: every project needs a project.json with exactly one of ${TYPES.join(', ')} and one of ${SCOPES.join(', ')} ` +
      `in its tags (see the comment at the top of eslint.config.mjs); check ${untagged.map((p) => p.dir).join(', ')}`,
  );
}
// Without a cached project graph the Nx rule skips itself (one warning per file, exit code 0), and
// with a stale one it checks old tags: fail instead, so that a lint run never passes by accident.
const refresh = 'run `npx nx show projects` to refresh it (`npm run lint` does this first)';
let graph;
try {
  graph = readCachedProjectGraph();
} catch {
  throw new Error(`eslint.config.mjs: Nx has no cached project graph; ${refresh}`);
}
// Nx adds tags of its own from a project's package.json (`npm:public` for libs/contracts, published as @tandem/contracts): not ours to compare.
const cachedTags = new Map(
  Object.values(graph.nodes).map((n) => [
    n.data.root,
    [...(n.data.tags ?? [])]
      .filter((t) => !t.startsWith('npm:'))
      .sort()
      .join(),
  ]),
);
const stale = projects.filter((p) => cachedTags.get(p.dir) !== [...p.tags].sort().join());
if (stale.length) {
  throw new Error(`eslint.config.mjs: Nx's cached project graph is out of date for ${stale.map((p) => p.dir).join(', ')}; ${refresh}`);
}

const pureDirs = projects.filter((p) => p.tags.includes('type:pure')).map((p) => p.dir);

/** npm packages a type:pure project may not import (checked by the Nx rule against the graph). */
const IO_PACKAGES = ['nats', 'typeorm', 'pg', 'execa', 'ssh2', 'express', '@nestjs/*', '@opentelemetry/sdk-*', '@opentelemetry/exporter-*'];
/** Node built-ins a type:pure project may not import (the Nx graph has no nodes for built-ins). */
const IO_BUILTINS = 'child_process cluster dgram dns dns/promises fs fs/promises http http2 https inspector os readline readline/promises tls worker_threads'.split(' ');

const TEST_FILES = ['**/*.spec.ts', '**/*.integration-spec.ts', '**/*.integration-helper.ts', '**/*.e2e-spec.ts'];

/** depConstraints for @nx/enforce-module-boundaries; `forTests` lets test files use scope:testbed. */
const depConstraints = (forTests) => [
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:io', 'type:pure'] },
  { sourceTag: 'type:io', onlyDependOnLibsWithTags: ['type:io', 'type:pure'] },
  { sourceTag: 'type:pure', onlyDependOnLibsWithTags: ['type:pure'], bannedExternalImports: IO_PACKAGES },
  { sourceTag: 'type:test', onlyDependOnLibsWithTags: ['type:io', 'type:pure'] },
  { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:io', 'type:pure'] },
  ...(forTests ? [] : SHIPPED_SCOPES.map((sourceTag) => ({ sourceTag, notDependOnLibsWithTags: ['scope:testbed'] }))),
];
const boundaries = (forTests) => ['error', { allow: [], enforceBuildableLibDependency: false, depConstraints: depConstraints(forTests) }];

const NO_DEEP_IMPORTS = { regex: '^@tandem/[^/]+/', message: 'Import a workspace lib through its index (@tandem/<lib>), not a file inside it.' };
const restrictedImports = (banBuiltins) => [
  'error',
  {
    paths: banBuiltins
      ? [
          ...IO_BUILTINS.flatMap((name) => [name, `node:${name}`]).map((name) => ({
            name,
            message: 'type:pure libs do no I/O: move this to a type:io lib or an app.',
          })),
          ...['net', 'node:net'].map((name) => ({
            name,
            allowImportNames: ['isIP', 'isIPv4', 'isIPv6'],
            message: 'type:pure libs may use only the isIP* helpers of node:net.',
          })),
        ]
      : [],
    patterns: [NO_DEEP_IMPORTS],
  },
];

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'docs/', '.nx/', 'tmp/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  { plugins: { '@nx': nx } },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.node },
    rules: {
      '@nx/enforce-module-boundaries': boundaries(false),
      'no-restricted-imports': restrictedImports(false),
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `x && f()` and `c ? f() : g()` as statements are deliberate here; a bare `a === b;` is still an error.
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      // The CLI prints columns separated by two spaces, and its tests match them literally.
      'no-regex-spaces': 'off',
    },
  },
  // The web console's browser code (apps/console/src/browser): TypeScript and TSX with the browser's globals.
  {
    files: ['apps/console/src/browser/**/*.{ts,tsx}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.browser, parserOptions: { ecmaFeatures: { jsx: true } } },
    rules: {
      '@nx/enforce-module-boundaries': boundaries(false),
      'no-restricted-imports': restrictedImports(false),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
    },
  },
  {
    files: pureDirs.map((dir) => `${dir}/**/*.ts`),
    rules: { 'no-restricted-imports': restrictedImports(true) },
  },
  {
    files: TEST_FILES,
    rules: { '@nx/enforce-module-boundaries': boundaries(true), 'no-restricted-imports': restrictedImports(false) },
  },
  // The CommonJS entry points: bin/* (no extension; ESLint picks no files by a pattern that ends in
  // `*`, hence `bin/*[a-z]`) and tools/register.js.
  {
    files: ['bin/*[a-z]', '**/*.js', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 2022, sourceType: 'commonjs', globals: globals.node },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.node },
  },
  // Last: turns off every rule that would disagree with Prettier's formatting.
  prettier,
);
