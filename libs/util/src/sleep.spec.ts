import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from './sleep';

test('sleep resolves after about the given time', async () => {
  const t0 = performance.now();
  assert.equal(await sleep(30), undefined);
  const took = performance.now() - t0;
  assert.ok(took >= 25, `took ${took} ms`);
  assert.ok(took < 1_000, `took ${took} ms`);
});

test('sleep(0) resolves', async () => {
  await sleep(0);
});
