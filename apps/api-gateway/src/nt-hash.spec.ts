import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ntHash } from './nt-hash';

test('the NT hash is MD4 of the UTF-16LE password (known values)', async () => {
  assert.equal(await ntHash('password'), '8846f7eaee8fb117ad06bdd830b7586c');
  assert.equal(await ntHash(''), '31d6cfe0d16ae931b73c59d7e0c089c0');
  // not ASCII: UTF-16LE, not UTF-8
  assert.notEqual(await ntHash('pässwörd'), await ntHash('passwoerd'));
  assert.match(await ntHash('pässwörd'), /^[0-9a-f]{32}$/);
});
