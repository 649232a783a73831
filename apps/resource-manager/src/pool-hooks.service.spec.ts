import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError, type HookRunResult } from '@tandem/contracts';
import { PoolHooks, type HookCall } from './pool-hooks.service';

/* The resource-manager's side of hooks on its seams: a host that answers as a host-executor would, a recording activity log. */
function fixture(answer: HookRunResult | TandemError) {
  const asked: Array<{ node: string; op: string; req: Record<string, unknown>; timeoutMs?: number }> = [];
  const log: Array<{ actor: string; action: string; target: string; result: string; error?: string; detail?: string }> = [];
  const hooks = new PoolHooks(
    {
      call: (async (node: string, op: string, req: Record<string, unknown>, timeoutMs?: number) => {
        asked.push({ node, op, req, timeoutMs });
        if (answer instanceof TandemError) throw answer;
        return answer;
      }) as never,
    },
    { record: async (actor, action, target, result, error, detail) => void log.push({ actor, action, target, result, error, detail }) },
    { hookTimeoutMs: 5_000 },
  );
  return { hooks, asked, log };
}
const call: HookCall = { pool: 'tank', node: 'node-b', epoch: 7, reason: 'move', peer: 'node-a', actor: 'alice' };
const run = (hook: string, exitCode: number | null, output: string[], timedOut = false) => ({ hook, exitCode, signal: timedOut ? 'SIGKILL' : null, timedOut, ms: 12, output });

test('every run is an activity entry of the pool, with its exit and last lines; the node is asked with the timeout and a margin', async () => {
  const f = fixture({ runs: [run('/h/post-start.d/10-a', 0, ['ok']), run('/h/post-start.d/20-b', 1, ['no', 'luck'])], failed: true });
  const o = await f.hooks.run('post-start', call);
  assert.deepEqual(f.asked, [{ node: 'node-b', op: 'hook.run', req: { pool: 'tank', point: 'post-start', epoch: 7, reason: 'move', peer: 'node-a', timeoutMs: 5_000 }, timeoutMs: 15_000 }]);
  assert.deepEqual(
    f.log.map((e) => [e.actor, e.action, e.target, e.result, e.error ?? null]),
    [
      ['alice', 'pool.hook.post-start', 'tank', 'succeeded', null],
      ['alice', 'pool.hook.post-start', 'tank', 'failed', 'hook /h/post-start.d/20-b on node-b exited 1 after 12 ms; last lines: no | luck'],
    ],
  );
  assert.equal(f.log[0].detail, 'hook /h/post-start.d/10-a on node-b exited 0 after 12 ms; last lines: ok');
  assert.deepEqual(o, { failed: true, refusal: 'hook /h/post-start.d/20-b on node-b exited 1 after 12 ms; last lines: no | luck' });
});

test('pre-start: a failing hook refuses the start, naming the hook, its exit and its last lines; none or all passing is a go', async () => {
  const refused = fixture({ runs: [run('/h/pre-start.d/10-check', 3, ['replica behind'])], failed: true });
  await assert.rejects(
    refused.hooks.preStart(call),
    (e: TandemError) =>
      e.code === ErrorCode.CommandFailed &&
      e.message === 'the pre-start hooks refused to start pool tank on node-b: hook /h/pre-start.d/10-check on node-b exited 3 after 12 ms; last lines: replica behind',
  );
  await fixture({ runs: [], failed: false }).hooks.preStart(call);
  await fixture({ runs: [run('/h/pre-start.d/10-check', 0, [])], failed: false }).hooks.preStart(call);
});

test('a node whose hooks cannot be run refuses a pre-start (logged); one that predates hooks has none', async () => {
  const down = fixture(new TandemError(ErrorCode.UnknownNode, 'no host-executor answers for node "node-b"'));
  await assert.rejects(down.hooks.preStart(call), /could not be run on node-b: no host-executor answers/);
  assert.deepEqual(
    down.log.map((e) => e.result),
    ['failed'],
  );
  const old = fixture(new TandemError(ErrorCode.UnknownOperation, 'unknown operation "hook.run"'));
  await old.hooks.preStart(call);
  assert.deepEqual(old.log, []);
});
