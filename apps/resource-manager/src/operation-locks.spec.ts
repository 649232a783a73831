import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { OperationLocks } from './operation-locks';

test('a second operation on a pool in transition is refused at once; other pools and the cluster are not held up', async () => {
  const locks = new OperationLocks();
  let release!: () => void;
  const first = locks.pool('tank', () => new Promise<string>((r) => (release = () => r('moved'))));
  await assert.rejects(
    locks.pool('tank', async () => 'export'),
    (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InTransition && e.field === 'pool' && /pool tank is in transition/.test(e.message),
  );
  assert.equal(await locks.pool('other', async () => 'ok'), 'ok');
  assert.equal(await locks.cluster(async () => 'ok'), 'ok');
  release();
  assert.equal(await first, 'moved');
  assert.equal(await locks.pool('tank', async () => 'again'), 'again', 'free once the first one ended');
});

test('changes of the cluster run one at a time', async () => {
  const locks = new OperationLocks();
  let release!: () => void;
  const first = locks.cluster(() => new Promise<void>((r) => (release = r)));
  await assert.rejects(
    locks.cluster(async () => undefined),
    (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InTransition && e.field === 'cluster',
  );
  release();
  await first;
});
