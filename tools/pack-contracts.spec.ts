import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestDrift, packContracts } from './pack-contracts';

test('@tandem/contracts packs as JavaScript with its declarations, libs/contracts alone, zod as its dependency', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tandem-contracts-pack-'));
  try {
    const r = packContracts(join(tmp, 'stage'), join(tmp, 'out'), true);
    assert.equal(r.filename, `tandem-contracts-${JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).version}.tgz`);
    const paths = r.files.map((f) => f.path).sort();
    assert.ok(paths.includes('dist/index.js') && paths.includes('dist/index.d.ts'), 'the entry point and its types');
    assert.ok(paths.includes('dist/events.d.ts') && paths.includes('dist/subjects.d.ts'));
    for (const p of paths) {
      assert.match(p, /^(package\.json|dist\/[a-z-]+\.(js|d\.ts))$/, `${p}: only the compiled contracts`);
      assert.doesNotMatch(p, /spec|apps\/|libs\//, p);
    }
    // each .js has its .d.ts, and the sources are all there
    const js = paths.filter((p) => p.endsWith('.js'));
    assert.deepEqual(
      js.map((p) => p.replace(/\.js$/, '.d.ts')),
      paths.filter((p) => p.endsWith('.d.ts')),
    );
    assert.ok(js.length >= 20, `${js.length} modules`);
    // what the compiled code requires: its own modules, zod, Node's built-ins — never another workspace lib
    const required = new Set(js.flatMap((p) => [...readFileSync(join(tmp, 'stage', p), 'utf8').matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])));
    for (const m of required) assert.match(m, /^(\.\/[a-z-]+|zod|zod-to-json-schema|node:[a-z]+)$/, `dist requires ${m}`);
    assert.deepEqual(Object.keys(r.dependencies ?? {}).sort(), ['zod', 'zod-to-json-schema']);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("libs/contracts/package.json keeps the root package.json's version and dependency ranges", () => {
  assert.deepEqual(manifestDrift(), []);
});
