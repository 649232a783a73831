import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTreeTasks } from './tree-tasks';

const parentOf = (d: string, among: readonly string[]): string | null => {
  let best: string | null = null;
  for (const a of among) if (d.startsWith(`${a}/`) && (!best || a.length > best.length)) best = a;
  return best;
};

/** A task that finishes when told to, recording when it started. */
function gate() {
  const started: string[] = [];
  const release = new Map<string, () => void>();
  let running = 0;
  let most = 0;
  const fn = (d: string) =>
    new Promise<string>((resolve, reject) => {
      started.push(d);
      most = Math.max(most, ++running);
      release.set(d, () => {
        running--;
        if (d.endsWith('!')) reject(new Error(`${d} failed`));
        else resolve(d.toUpperCase());
      });
    });
  const tick = () => new Promise((r) => setImmediate(r));
  return { fn, started, release: (d: string) => release.get(d)!(), tick, most: () => most };
}

test('a child starts only after its parent finished; siblings run side by side', async () => {
  const g = gate();
  const done = runTreeTasks(['p', 'p/a', 'p/b', 'p/a/x'], parentOf, 4, g.fn);
  await g.tick();
  assert.deepEqual(g.started, ['p']);
  g.release('p');
  await g.tick();
  assert.deepEqual(g.started.sort(), ['p', 'p/a', 'p/b']);
  g.release('p/a');
  await g.tick();
  assert.ok(g.started.includes('p/a/x'), 'the grandchild starts once its parent is done, while its uncle still runs');
  g.release('p/b');
  g.release('p/a/x');
  const r = await done;
  assert.deepEqual(
    r.map((x) => (x.ok ? x.value : null)),
    ['P', 'P/A', 'P/B', 'P/A/X'],
    'results in the order the items were given',
  );
});

test('never more than the limit at once', async () => {
  const g = gate();
  const items = ['p', 'p/1', 'p/2', 'p/3', 'p/4', 'p/5'];
  const done = runTreeTasks(items, parentOf, 2, g.fn);
  await g.tick();
  g.release('p');
  for (let i = 1; i <= 5; i++) {
    await g.tick();
    await g.tick();
    g.release(`p/${i}`);
  }
  const r = await done;
  assert.equal(g.most(), 2);
  assert.ok(r.every((x) => x.ok));
});

test('a failed parent: its children do not run and carry its error; unrelated items still run', async () => {
  const g = gate();
  const done = runTreeTasks(['q!', 'q!/a', 'z'], parentOf, 4, g.fn);
  await g.tick();
  assert.deepEqual(g.started.sort(), ['q!', 'z']);
  g.release('q!');
  g.release('z');
  const r = await done;
  assert.equal(g.started.includes('q!/a'), false);
  assert.equal(r[0].ok, false);
  assert.equal(r[1].ok === false && r[1].skipped, true);
  assert.equal(r[1].ok === false && (r[1].error as Error).message, 'q! failed');
  assert.equal(r[2].ok && r[2].value, 'Z');
});

test('a limit that is not a positive integer is refused', async () => {
  await assert.rejects(
    runTreeTasks(
      ['a'],
      () => null,
      0,
      async () => 1,
    ),
    RangeError,
  );
});
