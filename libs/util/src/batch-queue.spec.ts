import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchQueue } from './batch-queue';
import { KeyedMutex } from './keyed-mutex';

/** A batch runner whose batches end when the test says; each item's result is itself doubled. */
function controlled() {
  const batches: number[][] = [];
  const ends: Array<() => void> = [];
  const run = (items: number[]) =>
    new Promise<Array<PromiseSettledResult<number>>>((resolve) => {
      batches.push(items);
      ends.push(() => resolve(items.map((i) => (i < 0 ? { status: 'rejected', reason: new Error(`item ${i} failed`) } : { status: 'fulfilled', value: i * 2 }))));
    });
  return { run, batches, end: () => ends.shift()!() };
}

const tick = () => new Promise((res) => setImmediate(res));

test('a lone item runs at once, alone; items pushed while it runs go together in the next batch', async () => {
  const c = controlled();
  const q = new BatchQueue<number, number>({ max: 10, run: c.run });
  const first = q.push(1);
  await tick();
  assert.deepEqual(c.batches, [[1]], 'the first item did not wait for company');
  const rest = [q.push(2), q.push(3), q.push(4)];
  await tick();
  assert.equal(c.batches.length, 1, 'nothing else starts while a batch runs');
  c.end();
  assert.equal(await first, 2);
  await tick();
  assert.deepEqual(c.batches[1], [2, 3, 4]);
  c.end();
  assert.deepEqual(await Promise.all(rest), [4, 6, 8]);
  assert.deepEqual(q.sizes, [1, 3]);
});

test('gathering, a batch takes those pushed in the same turn; it holds at most max items, the rest follow in the next', async () => {
  const c = controlled();
  const q = new BatchQueue<number, number>({ max: 2, run: c.run, gather: true });
  const all = [1, 2, 3, 4, 5].map((i) => q.push(i));
  await tick();
  c.end();
  await tick();
  c.end();
  await tick();
  assert.deepEqual(c.batches, [[1, 2], [3, 4], [5]], 'those pushed in the same turn went together, two at a time');
  c.end();
  assert.deepEqual(await Promise.all(all), [2, 4, 6, 8, 10]);
});

test("one item's failure is its own; a batch that throws fails every item in it, and the queue goes on", async () => {
  let calls = 0;
  const q = new BatchQueue<number, number>({
    max: 5,
    run: async (items) => {
      calls++;
      if (calls === 1) throw new Error('the whole batch failed');
      return items.map((i) => (i < 0 ? { status: 'rejected', reason: new Error(`item ${i} failed`) } : { status: 'fulfilled', value: i }));
    },
  });
  const a = assert.rejects(q.push(1), /the whole batch failed/);
  await tick();
  const b = q.push(-2);
  const c = q.push(3);
  await a;
  await assert.rejects(b, /item -2 failed/);
  assert.equal(await c, 3);
});

test('the batch is taken when its turn comes: items pushed while it waits for a shared lock join it', async () => {
  const lock = new KeyedMutex();
  const c = controlled();
  const q = new BatchQueue<number, number>({ max: 10, run: c.run, turn: (fn) => lock.run('config', fn) });
  let release!: () => void;
  const held = lock.run('config', () => new Promise<void>((res) => (release = res)));
  const items = [q.push(1), q.push(2)];
  await tick();
  items.push(q.push(3));
  await tick();
  assert.equal(c.batches.length, 0, 'no batch runs while another holds the lock');
  release();
  await held;
  await tick();
  assert.deepEqual(c.batches, [[1, 2, 3]]);
  c.end();
  assert.deepEqual(await Promise.all(items), [2, 4, 6]);
});

test('a runner answering the wrong number of results fails the batch rather than leaving an item waiting', async () => {
  const q = new BatchQueue<number, number>({ max: 5, run: async () => [] });
  await assert.rejects(q.push(1), /0 results for a batch of 1/);
  assert.throws(() => new BatchQueue<number, number>({ max: 0, run: async () => [] }), /max must be a whole number/);
});
