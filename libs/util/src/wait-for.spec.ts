import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './wait-for';
import { TimeoutError } from './with-timeout';

test('waitFor returns the first truthy value, sync or async', async () => {
  let n = 0;
  assert.equal(await waitFor(() => (++n >= 3 ? `ready after ${n}` : null), { timeoutMs: 1_000, intervalMs: 1, what: 'n' }), 'ready after 3');
  let m = 0;
  assert.deepEqual(await waitFor(async () => (++m >= 2 ? { pool: 'tank' } : undefined), { timeoutMs: 1_000, intervalMs: 1, what: 'm' }), { pool: 'tank' });
  assert.equal(await waitFor(() => true, { timeoutMs: 0, what: 'at once' }), true, 'called once even with no time');
});

test('waitFor treats a throwing condition as not yet', async () => {
  let n = 0;
  const v = await waitFor(
    async () => {
      if (++n < 3) throw new Error('not up');
      return n;
    },
    { timeoutMs: 1_000, intervalMs: 1, what: 'up' },
  );
  assert.equal(v, 3);
});

test('waitFor times out naming what was awaited and the last value', async () => {
  let n = 0;
  const t0 = performance.now();
  await assert.rejects(
    waitFor(() => (n++, 0), { timeoutMs: 50, intervalMs: 10, what: 'pool tank imported' }),
    (err: unknown) => {
      assert.ok(err instanceof TimeoutError);
      assert.equal(err.message, 'timed out after 50 ms waiting for pool tank imported; last value: 0');
      return true;
    },
  );
  const took = performance.now() - t0;
  assert.ok(took >= 45 && took < 1_000, `took ${took} ms`);
  assert.ok(n >= 2 && n <= 10, `polled ${n} times`);
});

test('waitFor times out with the last error, kept as the cause', async () => {
  let n = 0;
  await assert.rejects(
    waitFor(
      () => {
        throw new Error(`refused #${++n}`);
      },
      { timeoutMs: 30, intervalMs: 5, what: 'nats-server' },
    ),
    (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, new RegExp(`^timed out after 30 ms waiting for nats-server; last error: refused #${n}$`));
      assert.ok(err.cause instanceof Error && err.cause.message === `refused #${n}`);
      return true;
    },
  );
});

test('waitFor does not wait past the deadline for a condition that hangs', async () => {
  const t0 = performance.now();
  await assert.rejects(
    waitFor(() => new Promise<boolean>(() => undefined), { timeoutMs: 40, what: 'a hung probe' }),
    /waiting for a hung probe; last error: still pending at the deadline/,
  );
  assert.ok(performance.now() - t0 < 1_000);
});
