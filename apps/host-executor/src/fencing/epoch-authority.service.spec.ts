import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError, type HaPool } from '@tandem/contracts';
import { EpochAuthority, epochVerdict } from './epoch-authority.service';
import type { ReplicationRecords } from '../replication/replication-records.service';

const rec = (epoch: number) => ({ name: 'tank', epoch }) as HaPool;

test('the verdict: no record, anything; a record: an epoch needed (to serve), at most one above it', () => {
  assert.equal(epochVerdict('tank', null, undefined, 'an import'), null);
  assert.equal(epochVerdict('tank', null, 2 ** 40, 'an import'), null, 'no record: nothing to bound it by');
  assert.equal(epochVerdict('tank', 7, 8, 'an import'), null, 'the next epoch');
  assert.equal(epochVerdict('tank', 7, 7, 'an import'), null, 'the current one (a retry)');
  assert.equal(epochVerdict('tank', 7, 3, 'an import'), null, 'older: the fencing epochs refuse it, not this');
  const none = epochVerdict('tank', 7, undefined, 'an import to serve it');
  assert.ok(none instanceof TandemError && none.code === ErrorCode.InvalidArgument && none.field === 'epoch');
  assert.match(none.message, /^pool tank is under cluster control \(epoch 7\): an import to serve it must carry its fencing epoch/);
  const beyond = epochVerdict('tank', 7, 9, 'an import');
  assert.match(beyond!.message, /^pool tank: epoch 9 is beyond the pool record's \(7\); refused and not recorded \(a move or failover takes the next epoch, 8\)$/);
});

function authority(seen: HaPool | null | undefined, fresh: () => Promise<HaPool | null>) {
  let reads = 0;
  const records = {
    poolSeen: () => seen,
    freshPool: async () => {
      reads++;
      return fresh();
    },
  } as unknown as ReplicationRecords;
  return { a: new EpochAuthority(records), reads: () => reads };
}

test('the followed copy decides without a read when it allows; a refusal is confirmed by a fresh read', async () => {
  const ok = authority(rec(7), async () => rec(7));
  await ok.a.check('tank', 8, 'an import');
  assert.equal(ok.reads(), 0, 'the takeover path reads nothing');

  // the copy is a move behind: the fresh record allows it
  const behind = authority(rec(7), async () => rec(8));
  await behind.a.check('tank', 9, 'an import');
  assert.equal(behind.reads(), 1);

  const forged = authority(rec(7), async () => rec(7));
  await assert.rejects(forged.a.check('tank', 2 ** 30, 'an import'), /beyond the pool record's \(7\)/);
  // a record the copy has not seen yet (a new pool): read now
  const newPool = authority(null, async () => rec(1));
  await assert.rejects(newPool.a.check('tank', undefined, 'an import to serve it'), /under cluster control/);
});

test('records that cannot be read: an operation with an epoch goes on; one without is judged by the followed copy, refused (try again) without one', async () => {
  const down = () => Promise.reject(new Error('no responders'));
  await authority(undefined, down).a.check('tank', 8, 'an import');
  await assert.rejects(
    authority(undefined, down).a.check('tank', undefined, 'an import to serve it'),
    (e: unknown) => e instanceof TandemError && e.code === ErrorCode.Unavailable && /cannot tell whether pool tank is under cluster control/.test(e.message),
  );
  // without an epoch, the followed copy decides when the record cannot be read (a manual import after a power loss)
  await authority(null, down).a.check('tank', undefined, 'an import to serve it');
  await assert.rejects(authority(rec(7), down).a.check('tank', undefined, 'an import to serve it'), /under cluster control \(epoch 7\)/);
});
