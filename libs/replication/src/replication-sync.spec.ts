import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { ReplicationSync } from './replication-sync';

/* The active's snapshot on a host that answers like a node's host-executor (a fake: this is about naming, not ZFS). */
function host(existing: Set<string>) {
  const created: string[] = [];
  const call = async (_node: string, op: string, req: { name?: string }) => {
    if (op === 'snapshot.create') {
      const changed = !existing.has(req.name!);
      existing.add(req.name!);
      if (changed) created.push(req.name!);
      return { changed, snapshot: {} };
    }
    return []; // dataset.list, snapshot.list: nothing to expire
  };
  return { created, sync: new ReplicationSync({ call } as never) };
}

test('a snapshot whose name (one-second resolution) was taken already in this second is taken again in the next second, never counted as this one', async () => {
  let now = Date.parse('2026-12-04T05:25:03.400Z');
  const slept: number[] = [];
  const clock = { now: () => now, sleep: async (ms: number) => void (slept.push(ms), (now += ms)) };
  const { created, sync } = host(new Set(['tandem-20261204-052503']));
  const r = await sync.snapshot('node-a', 'twin', 24, [], new Date(now), clock);
  assert.equal(r.snapshot, 'tandem-20261204-052504');
  assert.deepEqual(created, ['tandem-20261204-052504']);
  assert.deepEqual(slept, [610], 'waited into the next second');
  // a name that is free is taken at once
  const fresh = host(new Set());
  assert.equal((await fresh.sync.snapshot('node-a', 'twin', 24, [], new Date(now), clock)).snapshot, 'tandem-20261204-052504');
  // a clock that never moves on: refused after a few tries, nothing counted
  const stuck = host(new Set(['tandem-20261204-052504']));
  await assert.rejects(
    stuck.sync.snapshot('node-a', 'twin', 24, [], new Date(now), { now: () => now, sleep: async () => undefined }),
    (err: unknown) => err instanceof TandemError && err.code === ErrorCode.AlreadyExists,
  );
});
