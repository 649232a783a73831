import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { StateFileError, jsonWith, readStateFile, writeStateFile } from './state-file';

/* A node's state files on a real file system: absent, written whole, or refused loudly. */
const spec = { what: 'the fencing epochs', ifRemoved: 'stale epochs are accepted until new ones are seen', parse: jsonWith(z.record(z.number().int().min(0))) };

test('absent: a first start (null); written: read back whole, with its mode, no temporary file left', () => {
  const dir = mkdtempSync(join(tmpdir(), 'state-'));
  const file = join(dir, 'sub', 'epochs.json');
  assert.equal(readStateFile(file, spec), null);
  writeStateFile(file, JSON.stringify({ tank: 3 }), 0o600);
  assert.deepEqual(readStateFile(file, spec), { tank: 3 });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  writeStateFile(file, JSON.stringify({ tank: 4 }), 0o600);
  assert.deepEqual(readStateFile(file, spec), { tank: 4 });
  assert.deepEqual(readdirSync(join(dir, 'sub')), ['epochs.json']);
});

test('there but unusable (truncated, empty, wrong shape): a StateFileError naming the file, why, and what to do', () => {
  const dir = mkdtempSync(join(tmpdir(), 'state-'));
  const file = join(dir, 'epochs.json');
  for (const [text, why] of [
    ['{"tank": 3', /it is not JSON/],
    ['', /it is empty/],
    ['{"tank": -1}', /tank: Number must be greater than or equal to 0/],
  ] as const) {
    writeFileSync(file, text);
    assert.throws(
      () => readStateFile(file, spec),
      (err: unknown) =>
        err instanceof StateFileError &&
        err.file === file &&
        why.test(err.message) &&
        err.message.includes(`the fencing epochs ${file} cannot be used`) &&
        /Restore the file from a backup, or remove it/.test(err.message),
    );
  }
});
