import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedMutex } from './keyed-mutex';
import { sleep } from './sleep';

test('keyed mutex: same key serialises, other keys run alongside', async () => {
  const m = new KeyedMutex();
  const log: string[] = [];
  const job = (key: string, name: string, ms: number) =>
    m.run(key, async () => {
      log.push(`${name}+`);
      await sleep(ms);
      log.push(`${name}-`);
    });
  await Promise.all([job('a', 'a1', 30), job('a', 'a2', 1), job('b', 'b1', 5)]);
  assert.ok(log.indexOf('a1-') < log.indexOf('a2+'), log.join(' '));
  assert.ok(log.indexOf('b1+') < log.indexOf('a1-'), log.join(' '));
  assert.equal(m.isBusy('a'), false);
  await assert.rejects(
    m.run('a', async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await m.run('a', async () => 7), 7, 'a failed job releases the lock');
});

test('keyed mutex: busy while a job runs or waits, free once the last one ends', async () => {
  const m = new KeyedMutex();
  let release!: () => void;
  const first = m.run('k', () => new Promise<void>((r) => (release = r)));
  const second = m.run('k', async () => 'second');
  assert.equal(m.isBusy('k'), true);
  assert.equal(m.isBusy('other'), false);
  await sleep(5);
  release();
  await first;
  assert.equal(m.isBusy('k'), true, 'the waiting job still holds the key');
  assert.equal(await second, 'second');
  assert.equal(m.isBusy('k'), false);
});
