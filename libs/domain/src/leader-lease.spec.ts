import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideLease, validateTimings, type LeaseTimings } from './leader-lease';

const t: LeaseTimings = { renewMs: 500, fenceMs: 2_000, takeoverMs: 3_000 };

test('an empty lease is acquired from revision 0', () => {
  assert.deepEqual(decideLease('a', null, null, 0, t), { action: 'acquire', revision: 0 });
});

test('the holder renews on the revision it saw', () => {
  assert.deepEqual(decideLease('a', { holder: 'a', revision: 7, seenAt: 0 }, 100, 200, t), { action: 'renew', revision: 7 });
});

test('a holder that could not renew past fenceMs steps down', () => {
  const d = decideLease('a', { holder: 'a', revision: 7, seenAt: 0 }, 100, 2_101, t);
  assert.equal(d.action, 'step-down');
});

test('a peer waits while the lease moves, and takes over only after takeoverMs of silence', () => {
  assert.deepEqual(decideLease('b', { holder: 'a', revision: 9, seenAt: 1_000 }, null, 3_999, t), { action: 'wait' });
  assert.deepEqual(decideLease('b', { holder: 'a', revision: 9, seenAt: 1_000 }, null, 4_000, t), { action: 'acquire', revision: 9 });
});

test('timings that would let a peer take over before the holder fences are refused', () => {
  assert.throws(() => validateTimings({ renewMs: 500, fenceMs: 3_000, takeoverMs: 3_000 }), /takeoverMs/);
  assert.throws(() => validateTimings({ renewMs: 500, fenceMs: 900, takeoverMs: 3_000 }), /fenceMs/);
  assert.doesNotThrow(() => validateTimings(t));
});
