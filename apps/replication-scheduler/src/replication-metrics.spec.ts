import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReplicaState, ReplicationState } from '@tandem/contracts';
import { replicaSamples } from './replication-metrics';

const replica = (r: Partial<ReplicaState>): ReplicaState => ({
  state: 'in-sync',
  reason: null,
  newestCommon: null,
  lagSeconds: null,
  lagBytes: null,
  lastTransfer: null,
  progress: null,
  failures: 0,
  nextPullAt: null,
  ...r,
});

test('one sample per replica: its lag from the record, the rate of its last transfer', () => {
  const at = '2026-12-04T18:00:00.000Z';
  const records: ReplicationState[] = [
    {
      pool: 'tank',
      source: 'node-a',
      newestSnapshot: null,
      nextSnapshotAt: null,
      keepAsideOn: [],
      updatedAt: at,
      replicas: {
        'node-b': replica({ lagSeconds: 4, lagBytes: 0, lastTransfer: { kind: 'incremental', bytes: 3_000_000, ms: 1_500, at, to: 'tandem-1' } }),
        'node-c': replica({ state: 'bootstrapping' }),
      },
    },
  ];
  assert.deepEqual(replicaSamples(records), [
    { labels: { pool: 'tank', replica: 'node-b' }, lagSeconds: 4, lagBytes: 0, bytesPerSecond: 2_000_000 },
    { labels: { pool: 'tank', replica: 'node-c' }, lagSeconds: null, lagBytes: null, bytesPerSecond: null },
  ]);
});
