import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILOVER_TIMINGS as T } from '@tandem/contracts';
import { checkFailoverTimings, confirmationWindowMs, mayTakeOver, mustFence } from './ownership';

test('the shipped timings keep the invariant with the default heartbeat timeout', () => {
  assert.deepEqual(checkFailoverTimings(T, 3_000), []);
  // an owner cut off at its last acknowledged renewal ends its fence before any peer may import
  const fenceEnds = T.fenceAfterMs + T.fenceBudgetMs;
  assert.ok(!mayTakeOver({ silentMs: 10_000, heartbeatTimeoutMs: 3_000, leaseStillForMs: fenceEnds }));
  assert.ok(mayTakeOver({ silentMs: 10_000, heartbeatTimeoutMs: 3_000, leaseStillForMs: T.takeoverAfterMs }));
});

test('timings that would let a peer import before the owner fenced are refused', () => {
  assert.match(checkFailoverTimings({ ...T, takeoverAfterMs: 2_000 }, 3_000).join(), /takeoverAfterMs/);
  assert.match(checkFailoverTimings({ ...T, fenceAfterMs: 400 }, 3_000).join(), /two renewals/);
  assert.match(checkFailoverTimings(T, 1_000).join(), /never keep a node/);
});

test('a node without the witness keeps its pools only while a peer confirms a recent heartbeat', () => {
  const base = { armed: true, sinceLastAckedRenewalSentMs: 5_000, heartbeatTimeoutMs: 3_000 };
  const w = confirmationWindowMs(3_000);
  assert.ok(w > 500, 'wider than a heartbeat interval');
  assert.equal(mustFence({ ...base, confirmedSentMsAgo: [w - 1] }), false);
  assert.equal(mustFence({ ...base, confirmedSentMsAgo: [w + 1] }), true);
  assert.equal(mustFence({ ...base, confirmedSentMsAgo: [null] }), true);
  assert.equal(mustFence({ ...base, confirmedSentMsAgo: [], heartbeatTimeoutMs: null }), true, 'no heartbeat view: fence');
  // a fresh lease, or no witness ever seen: never
  assert.equal(mustFence({ ...base, sinceLastAckedRenewalSentMs: T.fenceAfterMs - 1, confirmedSentMsAgo: [] }), false);
  assert.equal(mustFence({ ...base, armed: false, confirmedSentMsAgo: [] }), false);
});

test('a peer takes over only after silence on every channel and a lease that stood still', () => {
  const silent = 3_000 + T.downForMs;
  assert.equal(mayTakeOver({ silentMs: silent - 1, heartbeatTimeoutMs: 3_000, leaseStillForMs: 10_000 }), false, 'not silent long enough');
  assert.equal(mayTakeOver({ silentMs: silent, heartbeatTimeoutMs: 3_000, leaseStillForMs: T.takeoverAfterMs - 1 }), false, 'the lease moved lately');
  assert.equal(mayTakeOver({ silentMs: silent, heartbeatTimeoutMs: 3_000, leaseStillForMs: null }), false, 'the witness did not answer');
  assert.equal(mayTakeOver({ silentMs: silent, heartbeatTimeoutMs: 3_000, leaseStillForMs: T.takeoverAfterMs }), true);
  // on a power cut the silence decides: the lease rule adds no time with the shipped timings
  assert.ok(T.takeoverAfterMs <= silent);
});
