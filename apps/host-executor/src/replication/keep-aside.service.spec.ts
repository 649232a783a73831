import { test } from 'node:test';
import assert from 'node:assert/strict';
import { datasetsToKeep, divergedSnapshotName, keptTarget } from './keep-aside.service';

test('each dataset of the pool is kept under <pool>/tandem-kept/<tag>, in the same tree', () => {
  assert.equal(keptTarget('tank', 't1', 'tank'), 'tank/tandem-kept/t1');
  assert.equal(keptTarget('tank', 't1', 'tank/data'), 'tank/tandem-kept/t1/data');
  assert.equal(keptTarget('tank', 't1', 'tank/data/deep'), 'tank/tandem-kept/t1/data/deep');
});

test('what is copied: every filesystem but what was kept before, parents before children', () => {
  assert.deepEqual(datasetsToKeep('tank', ['tank/b/c', 'tank/tandem-kept', 'tank', 'tank/tandem-kept/old', 'tank/tandem-kept/old/b', 'tank/b', 'tank/a', 'tank/tandem-kept2']), [
    'tank',
    'tank/a',
    'tank/b',
    'tank/tandem-kept2',
    'tank/b/c',
  ]);
});

test('the snapshot name is a valid ZFS name or refused', () => {
  assert.equal(divergedSnapshotName('20260101-120000'), 'tandem-diverged-20260101-120000');
  assert.throws(() => divergedSnapshotName('a/b'));
  assert.throws(() => divergedSnapshotName('a b'));
});
