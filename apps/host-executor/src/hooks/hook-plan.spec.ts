import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostOpRequests, describeHookRun } from '@tandem/contracts';
import { OutputTail, hookArgv, hookDirs, hookEnv, hookOrder, isHookFileName } from './hook-plan';

const req = hostOpRequests['hook.run'].parse({ pool: 'tank', point: 'pre-start', epoch: 7, reason: 'move', peer: 'node-a', timeoutMs: 5_000 });

test('hooks live in <dir>/<point>.d for every pool and <dir>/pools/<POOL>/<point>.d for one', () => {
  assert.deepEqual(hookDirs('/etc/tandem/hooks', 'tank', 'post-stop'), { common: '/etc/tandem/hooks/post-stop.d', own: '/etc/tandem/hooks/pools/tank/post-stop.d' });
  assert.throws(() => hookDirs('/etc/tandem/hooks', '../etc', 'pre-start'));
});

test('run-parts names only: editor and package leftovers, dot files and names with dots are not hooks', () => {
  for (const ok of ['10-notify', 'check_db', 'A1']) assert.ok(isHookFileName(ok), ok);
  for (const bad of ['10-notify~', 'x.dpkg-old', '.hidden', 'x.sh', '', 'a b', 'x'.repeat(65)]) assert.ok(!isHookFileName(bad), bad);
});

test('start points: every pool first, then the pool; stop points: the pool first; each by name; non-hooks dropped', () => {
  assert.deepEqual(
    hookOrder('pre-start', ['20-b', '10-a', 'x.dpkg-old'], ['05-own']).map((h) => `${h.from}:${h.name}`),
    ['common:10-a', 'common:20-b', 'own:05-own'],
  );
  assert.deepEqual(
    hookOrder('post-stop', ['20-b', '10-a'], ['99-own', '05-own']).map((h) => `${h.from}:${h.name}`),
    ['own:05-own', 'own:99-own', 'common:10-a', 'common:20-b'],
  );
  // byte order, as run-parts (upper case before lower case)
  assert.deepEqual(
    hookOrder('post-start', ['b', 'B', 'a'], []).map((h) => h.name),
    ['B', 'a', 'b'],
  );
});

test('argv: the hook, the point, the pool — no shell; environment: Tandem variables and PATH only', () => {
  assert.deepEqual(hookArgv('/h/pre-start.d/10-a', req), ['/h/pre-start.d/10-a', 'pre-start', 'tank']);
  const saved = process.env.TANDEM_CLUSTER_SECRET_FILE;
  process.env.TANDEM_CLUSTER_SECRET_FILE = '/secret';
  try {
    const env = hookEnv(req, 'node-b', '/h/pre-start.d/10-a');
    assert.equal(env.TANDEM_POOL, 'tank');
    assert.equal(env.TANDEM_NODE, 'node-b');
    assert.equal(env.TANDEM_EPOCH, '7');
    assert.equal(env.TANDEM_REASON, 'move');
    assert.equal(env.TANDEM_PEER, 'node-a');
    assert.equal(env.TANDEM_HOOK, 'pre-start');
    assert.equal(env.TANDEM_HOOK_TIMEOUT_MS, '5000');
    assert.ok(env.PATH);
    assert.ok(!Object.keys(env).includes('TANDEM_CLUSTER_SECRET_FILE'), 'no variable of the service reaches a hook');
  } finally {
    if (saved === undefined) delete process.env.TANDEM_CLUSTER_SECRET_FILE;
    else process.env.TANDEM_CLUSTER_SECRET_FILE = saved;
  }
  const noPeer = hookEnv(hostOpRequests['hook.run'].parse({ ...req, peer: null }), 'node-b', '/x');
  assert.ok(!('TANDEM_PEER' in noPeer));
});

test('the hook request refuses what a hook must never be given', () => {
  const bad = [
    { ...req, pool: 'tank; reboot' },
    { ...req, point: 'start' },
    { ...req, reason: 'because' },
    { ...req, timeoutMs: 10 },
    { ...req, epoch: -1 },
    { ...req, peer: '$(id)' },
    { ...req, extra: 1 },
  ];
  for (const b of bad) assert.ok(!hostOpRequests['hook.run'].safeParse(b).success, JSON.stringify(b));
});

test('output: the last lines only, each bounded, control characters dropped, an unended line kept', () => {
  const t = new OutputTail(3, 10);
  t.push('one\ntwo\nthr');
  t.push('ee\nfour\n\n\nfive is a long line\x07\nsix');
  assert.deepEqual(t.last(), ['four', 'five is a…', 'six']);
  const big = new OutputTail(2, 5);
  big.push('x'.repeat(1_000_000));
  assert.ok(big.last().every((l) => l.length <= 5));
});

test('activity lines: exit status and the last lines; killed at the timeout said so', () => {
  const ok = describeHookRun('node-b', { hook: '/h/10-a', exitCode: 0, signal: null, timedOut: false, ms: 12.3, output: ['ready'] });
  assert.deepEqual([ok.ok, ok.summary, ok.detail], [true, 'hook /h/10-a on node-b exited 0 after 12 ms', 'hook /h/10-a on node-b exited 0 after 12 ms; last lines: ready']);
  const bad = describeHookRun('node-b', { hook: '/h/10-a', exitCode: 3, signal: null, timedOut: false, ms: 5, output: ['database not ready', 'giving up'] });
  assert.equal(bad.ok, false);
  assert.equal(bad.summary, 'hook /h/10-a on node-b exited 3 after 5 ms; last lines: database not ready | giving up');
  const hung = describeHookRun('node-b', { hook: '/h/10-a', exitCode: null, signal: 'SIGKILL', timedOut: true, ms: 2_001, output: [] });
  assert.equal(hung.summary, 'hook /h/10-a on node-b killed at its timeout after 2001 ms; it printed nothing');
});
