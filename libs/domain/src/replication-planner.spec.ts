import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lagSeconds, newestCommon, planDatasetPull, replicaExpiry, replicatedDatasets, replicationWindows, retentionExpiry, retryDelayMs, type SnapshotRef } from './replication-planner';

/* Shared-nothing replication's decisions, exact: by GUID, Tandem's snapshots only. */
const snap = (name: string, guid: string, minute: number, userrefs = 0): SnapshotRef => ({ name, guid, createdAt: new Date(Date.UTC(2026, 11, 3, 12, minute)).toISOString(), userrefs });
const t = (minute: number) => `tandem-20261203-12${String(minute).padStart(2, '0')}00`;
const s1 = snap(t(0), 'g1', 0);
const s2 = snap(t(15), 'g2', 15);
const s3 = snap(t(30), 'g3', 30);

test('nothing to pull before the first snapshot; a new dataset is sent in full, without keeping anything aside', () => {
  assert.deepEqual(planDatasetPull([], []), { action: 'wait', why: 'the active has taken no snapshot yet' });
  assert.deepEqual(planDatasetPull([snap('manual', 'gm', 1)], []), { action: 'wait', why: 'the active has taken no snapshot yet' }, 'only Tandem snapshots are sent');
  assert.deepEqual(planDatasetPull([s1, s2], null), { action: 'full', to: s2, keepAside: false, why: 'the dataset is new on the passive' });
});

test('no snapshot in common (by GUID, not name): a full resync with the replica kept aside', () => {
  const sameNameOtherData = snap(t(15), 'other', 15);
  assert.deepEqual(planDatasetPull([s1, s2], [sameNameOtherData]), { action: 'full', to: s2, keepAside: true, why: 'no snapshot in common with the active' });
  assert.deepEqual(planDatasetPull([s1], []), { action: 'full', to: s1, keepAside: true, why: 'the passive has no snapshot of it yet' });
  assert.equal(newestCommon([s1, s2], [sameNameOtherData]), null);
});

test('an incremental from the newest common snapshot to the newest, every intermediate included; in sync: nothing', () => {
  assert.deepEqual(planDatasetPull([s1, s2, s3], [s1]), { action: 'incremental', base: s1, to: s3, rollbackTo: null, keepAside: false });
  assert.deepEqual(planDatasetPull([s2, s3], [s1, s2]), { action: 'incremental', base: s2, to: s3, rollbackTo: null, keepAside: false }, 's1 expired on the active: s2 is the base');
  assert.deepEqual(planDatasetPull([s1, s2], [s1, s2]), { action: 'none', common: s2 });
});

test('a replica holding Tandem snapshots the active never had (it served meanwhile) diverged: kept aside, rolled back to the common one', () => {
  const own = snap(t(20), 'mine', 20);
  assert.deepEqual(planDatasetPull([s1, s2, s3], [s1, s2, own]), { action: 'incremental', base: s2, to: s3, rollbackTo: s2, keepAside: true });
  // the active has nothing newer than the common one: only the roll back
  assert.deepEqual(planDatasetPull([s1, s2], [s1, s2, own]), { action: 'incremental', base: s2, to: s2, rollbackTo: s2, keepAside: true });
});

test('retention keeps the newest N, never a held one (the next base of a replica), even with retention 1', () => {
  const held = snap(t(15), 'g2', 15, 1);
  assert.deepEqual(retentionExpiry([s1, held, s3], 1), { destroy: [s1], keptForReplicas: [held] });
  assert.deepEqual(retentionExpiry([s1, s2, s3], 24), { destroy: [], keptForReplicas: [] });
  assert.deepEqual(retentionExpiry([snap('manual', 'm', 0), s2, s3], 1), { destroy: [s2], keptForReplicas: [] }, "only Tandem's snapshots are expired");
});

test('the passive expires what the active no longer has, never the common base nor a held one', () => {
  const own = snap(t(20), 'mine', 20);
  assert.deepEqual(replicaExpiry([s2, s3], [s1, s2, s3]), [s1]);
  assert.deepEqual(replicaExpiry([s2, s3], [snap(t(0), 'g1', 0, 1), s2, s3]), [], 'held');
  assert.deepEqual(replicaExpiry([s1, s2], [s1, s2, own]), [], 'newer than the base: kept aside first, never expired');
});

test('the replicated datasets: every filesystem of the pool but the kept-aside copies, parents first', () => {
  assert.deepEqual(replicatedDatasets('tank', ['tank/b', 'tank', 'tank/tandem-kept', 'tank/tandem-kept/x', 'tank/a/c', 'tank/a', 'other']), ['tank', 'tank/a', 'tank/b', 'tank/a/c']);
});

test('lag, backoff and the windows of the settings', () => {
  assert.equal(lagSeconds([s1, s2, s3], [s1]), 1_800);
  assert.equal(lagSeconds([s1], [s1]), 0);
  assert.equal(lagSeconds([s1], []), null);
  assert.deepEqual(
    [1, 2, 3, 10].map((f) => retryDelayMs(f, 180)),
    [5_000, 10_000, 20_000, 180_000],
  );
  assert.deepEqual(replicationWindows({ snapshotIntervalS: 300, retention: 24 }), { rollbackWindowS: 7_200, passiveDownLimitS: 7_200 }, "the reference's 5 min × 24 = 2 h");
});
