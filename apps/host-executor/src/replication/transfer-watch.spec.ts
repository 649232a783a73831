import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressThrottle, StallWatch, progressPercent } from './transfer-watch';

test('a stream that moves no byte for the stall timeout is found stalled, once; bytes keep it alive', () => {
  let t = 0;
  const stalls: number[] = [];
  const watch = new StallWatch(
    1_000,
    (idle) => stalls.push(idle),
    () => t,
  );
  watch.start();
  try {
    t = 900;
    watch.check();
    watch.touch(); // bytes at 900
    t = 1_800;
    watch.check();
    assert.deepEqual(stalls, [], '900 ms without a byte is not a stall');
    t = 1_900;
    watch.check();
    assert.deepEqual(stalls, [1_000]);
    assert.equal(watch.stalled, true);
    t = 5_000;
    watch.check();
    assert.deepEqual(stalls, [1_000], 'told once');
  } finally {
    watch.stop();
  }
});

test('the stall watch runs by itself on a real clock', async () => {
  let fired = false;
  const watch = new StallWatch(60, () => (fired = true));
  watch.start();
  await new Promise((r) => setTimeout(r, 300));
  watch.stop();
  assert.equal(fired, true);
});

test('progress is told at the first bytes, then at most every 2 s', () => {
  let t = 0;
  const p = new ProgressThrottle(2_000, () => t);
  assert.equal(p.due(), true);
  t = 1_999;
  assert.equal(p.due(), false);
  t = 2_000;
  assert.equal(p.due(), true);
  t = 3_000;
  assert.equal(p.due(), false);
});

test('percent of the estimate: one decimal, never above 100, none without an estimate', () => {
  assert.equal(progressPercent(50, 200), 25);
  assert.equal(progressPercent(1, 3), 33.3);
  assert.equal(progressPercent(500, 200), 100);
  assert.equal(progressPercent(5, null), null);
  assert.equal(progressPercent(5, 0), null);
});
