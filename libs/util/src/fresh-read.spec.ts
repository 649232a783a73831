import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FreshRead } from './fresh-read';

/** A read whose end the test decides; each read returns its own number. */
function controlled() {
  const pending: Array<(v: number) => void> = [];
  let n = 0;
  const read = () =>
    new Promise<number>((resolve) => {
      const id = ++n;
      pending.push(() => resolve(id));
    });
  return { read, finish: () => pending.shift()!(0), started: () => n };
}

test('callers while nothing runs share one read; callers during a read share the next one, never the running one', async () => {
  const c = controlled();
  const r = new FreshRead(c.read);
  const a = r.get();
  const b = r.get(); // asked while read 1 runs: it began before b asked, so b waits for read 2
  const d = r.get();
  assert.equal(c.started(), 1);
  c.finish();
  assert.equal(await a, 1);
  await new Promise((res) => setImmediate(res));
  assert.equal(c.started(), 2, 'the queued read starts when the running one ends');
  c.finish();
  assert.equal(await b, 2);
  assert.equal(await d, 2);
  assert.equal(r.reads, 2);
});

test('a failed read fails its callers only; the next caller gets a new read', async () => {
  let fail = true;
  const r = new FreshRead(async () => {
    if (fail) throw new Error('scan failed');
    return 'ok';
  });
  await assert.rejects(r.get(), /scan failed/);
  fail = false;
  assert.equal(await r.get(), 'ok');
  assert.equal(r.reads, 2);
});

test('a caller that asks while a read is queued (not yet started) joins it', async () => {
  const c = controlled();
  const r = new FreshRead(c.read);
  const first = r.get();
  const second = r.get();
  const third = r.get();
  assert.equal(second, third, 'the same queued read');
  c.finish();
  await first;
  await new Promise((res) => setImmediate(res));
  c.finish();
  assert.equal(await third, 2);
});
