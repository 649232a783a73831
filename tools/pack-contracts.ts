import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * `@tandem/contracts` as an npm package (`npm run pack:contracts`): libs/contracts compiled on its
 * own (JavaScript and declarations, no tests; tsconfig.lib.json knows no other workspace lib, so an
 * import of one fails the build) into a staging directory with libs/contracts/package.json, then
 * `npm pack` there. Its version and its dependencies' ranges are the root package.json's.
 */
const ROOT = resolve(__dirname, '..', '..');
const LIB = join(ROOT, 'libs', 'contracts');

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
}
const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** What npm says of a pack (`npm pack --json`, one entry). */
export interface PackResult {
  filename: string;
  files: { path: string; size: number }[];
  dependencies?: Record<string, string>;
}

/** Problems with libs/contracts/package.json against the root's: its version, and each dependency's range. */
export function manifestDrift(): string[] {
  const root = manifest(ROOT);
  const lib = manifest(LIB);
  const drift = lib.version === root.version ? [] : [`version ${lib.version}, the root's is ${root.version}`];
  for (const [name, range] of Object.entries(lib.dependencies ?? {}))
    if (root.dependencies?.[name] !== range) drift.push(`dependency ${name} ${range}, the root's is ${root.dependencies?.[name] ?? 'none'}`);
  return drift;
}

/** Compiles the package into `stage` (emptied first) and packs it into `destination`; with dryRun, only says what it would pack. */
export function packContracts(stage: string, destination: string, dryRun = false): PackResult {
  const drift = manifestDrift();
  if (drift.length) throw new Error(`libs/contracts/package.json differs from the root package.json: ${drift.join('; ')}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  mkdirSync(destination, { recursive: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(LIB, 'tsconfig.lib.json'), '--outDir', join(stage, 'dist')], { cwd: ROOT, stdio: 'inherit' });
  copyFileSync(join(LIB, 'package.json'), join(stage, 'package.json'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', destination, ...(dryRun ? ['--dry-run'] : [])], { cwd: stage, encoding: 'utf8' });
  const [result] = JSON.parse(out) as PackResult[];
  return { ...result, dependencies: manifest(stage).dependencies };
}

if (require.main === module) {
  const dryRun = process.argv.includes('--dry-run');
  const packages = join(ROOT, 'dist', 'packages');
  const r = packContracts(join(packages, 'contracts'), packages, dryRun);
  process.stdout.write(`${dryRun ? 'would write' : 'wrote'} ${join(packages, r.filename)} (${r.files.length} files)\n`);
}
