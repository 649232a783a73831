import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep } from './sleep';
import { TimeoutError, withTimeout } from './with-timeout';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('withTimeout passes through a value or an error that comes in time', async () => {
  assert.equal(await withTimeout(Promise.resolve(42), 1_000, 'too slow'), 42);
  assert.equal(
    await withTimeout(
      sleep(5).then(() => 'late but in time'),
      1_000,
      'too slow',
    ),
    'late but in time',
  );
  await assert.rejects(withTimeout(Promise.reject(new Error('own failure')), 1_000, 'too slow'), /^Error: own failure$/);
});

test('withTimeout rejects with an Error carrying the message once the time is up', async () => {
  // real work keeps the event loop alive; the unref'd timeout alone would not
  const keepAlive = setInterval(() => undefined, 1_000);
  try {
    const t0 = performance.now();
    await assert.rejects(withTimeout(new Promise(() => undefined), 30, 'zpool import took too long'), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.ok(err instanceof TimeoutError);
      assert.equal(err.name, 'TimeoutError');
      assert.equal(err.message, 'zpool import took too long');
      return true;
    });
    assert.ok(performance.now() - t0 >= 25);
  } finally {
    clearInterval(keepAlive);
  }
});

test('withTimeout: its timer does not hold the process open and is cleared on settling', async () => {
  const before = timers();
  const pending = withTimeout(new Promise(() => undefined), 60_000, 'never');
  pending.catch(() => undefined);
  assert.equal(timers(), before, "the timer is unref'd");
  // a settled race leaves no timer behind: nothing fires after the test ends
  await withTimeout(Promise.resolve(), 60_000, 'never');
  assert.equal(timers(), before);
});

test('withTimeout: a late rejection after the timeout is not an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const work = sleep(20).then(() => {
      throw new Error('late failure');
    });
    await assert.rejects(withTimeout(work, 5, 'first'), /first/);
    await sleep(40);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
