import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateFileError } from '@tandem/config';
import { nextIncarnation } from './incarnation';

test('every start gets a greater incarnation, persisted, even when the wall clock went back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-inc-'));
  try {
    const file = join(dir, 'heartbeat', 'incarnation');
    const a = nextIncarnation(file, 1_000_000);
    assert.deepEqual(a, { incarnation: 1_000_000, persisted: true });
    assert.equal(readFileSync(file, 'utf8'), '1000000\n');
    assert.equal(nextIncarnation(file, 2_000_000).incarnation, 2_000_000);
    assert.equal(nextIncarnation(file, 5).incarnation, 2_000_001, 'clock set back: still one more than the last');
    assert.equal(nextIncarnation(file, 2_000_001).incarnation, 2_000_002, 'same millisecond: still one more');
    writeFileSync(file, 'garbage');
    assert.throws(
      () => nextIncarnation(file, 77),
      (err: unknown) => err instanceof StateFileError && /"garbage" is not a positive integer/.test(err.message),
      'a corrupt file stops the start',
    );
    assert.equal(readFileSync(file, 'utf8'), 'garbage', 'and is left as it was, for the operator');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a state directory that cannot be written still gives an incarnation, and says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-inc-'));
  try {
    const notADir = join(dir, 'file');
    writeFileSync(notADir, '');
    const r = nextIncarnation(join(notADir, 'heartbeat', 'incarnation'), 123);
    assert.equal(r.incarnation, 123);
    assert.equal(r.persisted, false);
    assert.ok(r.error);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
