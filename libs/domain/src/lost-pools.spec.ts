import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HaPool } from '@tandem/contracts';
import { poolRecord } from './spec-fixtures';
import { LostPoolTracker, type ImportedReport } from './lost-pools';

const pool = (node: string | null, state: HaPool['state'] = 'serving', epoch = 1) => poolRecord('tank', node, { state, epoch });
const reports = (pools: string[] | null, at: number) => new Map<string, ImportedReport>([['a', { pools, at }]]);

test('a pool recorded serving but missing from its node own reports is lost after the delay, not before', () => {
  const t = new LostPoolTracker(6_000);
  assert.equal(t.update(0, [pool('a')], reports([], 0)).size, 0, 'first sight of the serving state: nothing to compare yet');
  assert.equal(t.update(1_000, [pool('a')], reports([], 1_000)).size, 0);
  assert.equal(t.update(6_000, [pool('a')], reports([], 6_000)).size, 0, '5 s missing');
  assert.deepEqual([...t.update(7_000, [pool('a')], reports([], 7_000))], [['a', ['tank']]]);
});

test('imported again, a report older than the serving state, or no report: never lost', () => {
  const t = new LostPoolTracker(1_000);
  t.update(0, [pool('a')], reports([], 0));
  t.update(500, [pool('a')], reports([], 500));
  assert.equal(t.update(1_000, [pool('a')], reports(['tank'], 1_000)).size, 0, 'reported imported: the clock starts over');
  assert.equal(t.update(1_900, [pool('a')], reports([], 1_900)).size, 0);
  assert.equal(t.update(5_000, [pool('a')], reports(null, 5_000)).size, 0, 'host-executor silent: no verdict');
  const u = new LostPoolTracker(1_000);
  u.update(10_000, [pool('a')], reports([], 9_000));
  assert.equal(u.update(20_000, [pool('a')], reports([], 9_000)).size, 0, 'the only report predates the serving state');
});

test('a new owner or epoch starts afresh; a pool not serving is never lost', () => {
  const t = new LostPoolTracker(1_000);
  t.update(0, [pool('a')], reports([], 0));
  t.update(500, [pool('a')], reports([], 500));
  assert.equal(t.update(1_600, [pool('a', 'serving', 2)], reports([], 1_600)).size, 0, 'moved (new epoch): first sight again');
  assert.equal(t.update(5_000, [pool('a', 'in-transition', 2)], reports([], 5_000)).size, 0);
  assert.equal(t.update(9_000, [pool(null, 'inactive', 2)], reports([], 9_000)).size, 0);
});
