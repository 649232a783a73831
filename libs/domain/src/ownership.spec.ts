import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILOVER_TIMINGS as T } from '@tandem/contracts';
import { FENCE_STALL_MS, checkFailoverTimings, confirmationWindowMs, confirmingPeer, mayTakeOver, mustFence, shouldVerify } from './ownership';

test('the shipped timings keep the invariant with the default heartbeat timeout', () => {
  assert.deepEqual(checkFailoverTimings(T, 3_000), []);
  // an owner cut off at its last acknowledged renewal ends its fence before any peer may import
  const fenceEnds = T.fenceAfterMs + T.fenceBudgetMs;
  assert.ok(!mayTakeOver({ silentMs: 10_000, heartbeatTimeoutMs: 3_000, leaseStillForMs: fenceEnds }));
  assert.ok(mayTakeOver({ silentMs: 10_000, heartbeatTimeoutMs: 3_000, leaseStillForMs: T.takeoverAfterMs }));
});

test('timings that would let a peer import before the owner fenced are refused', () => {
  assert.match(checkFailoverTimings({ ...T, takeoverAfterMs: T.fenceAfterMs + T.fenceBudgetMs }, 3_000).join(), /takeoverAfterMs/);
  assert.match(checkFailoverTimings({ ...T, fenceAfterMs: 2 * T.renewMs }, 3_000).join(), /two renewals/);
  assert.match(checkFailoverTimings(T, 900).join(), /never keep a node/);
  assert.deepEqual(checkFailoverTimings(T, 1_500), [], 'the defaults hold');
  // every step of the fence counts: a longer export bound, or IPs and shares slower to go, overrun the budget
  assert.match(checkFailoverTimings({ ...T, exportBoundMs: T.exportBoundMs + 100 }, 3_000).join(), /fence budget \(1100\) must cover .* \(1150\)/);
  assert.match(checkFailoverTimings({ ...T, accessDownBoundMs: T.accessDownBoundMs + 100 }, 3_000).join(), /fence budget/);
  assert.match(checkFailoverTimings({ ...T, fenceTickMs: T.fenceTickMs + 100 }, 3_000).join(), /fence budget/);
});

test('a node without the witness keeps its pools only while a peer confirms a recent heartbeat', () => {
  const base = { armed: true, sinceLastAckedRenewalSentMs: 5_000, heartbeatTimeoutMs: 3_000 };
  const w = confirmationWindowMs(3_000);
  assert.ok(w > 150, 'wider than a heartbeat interval');
  assert.ok(confirmationWindowMs(1_500) > 2 * 100, 'with the defaults: wider than two heartbeat intervals');
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

test('the fencer verifies its standing only when its lease went stale, never after a stall of its own', () => {
  const fresh = { tickLagMs: 100, armed: true, reconciled: true, heldPools: 1, sinceLastAckedRenewalSentMs: T.fenceAfterMs - 1 };
  assert.equal(shouldVerify(fresh), 'keep');
  assert.equal(shouldVerify({ ...fresh, sinceLastAckedRenewalSentMs: T.fenceAfterMs }), 'verify');
  assert.equal(shouldVerify({ ...fresh, sinceLastAckedRenewalSentMs: 60_000, tickLagMs: FENCE_STALL_MS + 1 }), 'stalled', 'a stalled process looks again next tick');
  for (const nothing of [{ armed: false }, { reconciled: false }, { heldPools: 0 }])
    assert.equal(shouldVerify({ ...fresh, sinceLastAckedRenewalSentMs: 60_000, ...nothing }), 'keep', JSON.stringify(nothing));
});

test('the peer that keeps a node from fencing is named, counting the time the answer took', () => {
  const w = confirmationWindowMs(3_000);
  const peers = [
    { peer: 'b', confirmedSentMsAgo: null },
    { peer: 'c', confirmedSentMsAgo: w - 100 },
  ];
  assert.equal(confirmingPeer(peers, 50, 3_000), 'c');
  assert.equal(confirmingPeer(peers, 100, 3_000), null, 'the echo plus the answer time is outside the window');
});
