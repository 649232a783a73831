import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBaseConfig } from '@tandem/config';
import { describeHookRun, hostOpRequests } from '@tandem/contracts';
import { isAlive } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { HookService } from './hook.service';

/*
 * The hook runner against real processes: real scripts in a real directory, run by execa in
 * their own process group; a hung one and the child it started are both gone after the timeout.
 */
const config = readBaseConfig({ TANDEM_NODE_ID: 'node-b', TANDEM_NATS_URL: 'nats://127.0.0.1:4222' });

async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-hooks-'));
  const svc = new HookService({ hooksDir: dir }, { config });
  const put = async (rel: string, body: string, mode = 0o755) => {
    const p = join(dir, rel);
    await mkdir(join(p, '..'), { recursive: true });
    await writeFile(p, body);
    await chmod(p, mode);
    return p;
  };
  return { dir, svc, put, done: () => rm(dir, { recursive: true, force: true }) };
}
const req = (over: Record<string, unknown> = {}) => hostOpRequests['hook.run'].parse({ pool: 'tank', point: 'pre-start', epoch: 3, reason: 'failover', peer: 'node-a', timeoutMs: 5_000, ...over });

test('every hook of the point runs in order with argv and the pool, node, epoch and reason in its environment; the last lines come back', async () => {
  const f = await fixture();
  try {
    const log = join(f.dir, 'log');
    const rec = `#!/bin/sh\necho "$0 $1 $2 $TANDEM_POOL $TANDEM_NODE $TANDEM_EPOCH $TANDEM_REASON $TANDEM_PEER secret=\${TANDEM_CLUSTER_SECRET_FILE:-none}" >> ${log}\necho line1\necho line2 >&2\n`;
    await f.put('pre-start.d/20-common', rec);
    await f.put('pre-start.d/10-common', rec);
    await f.put('pools/tank/pre-start.d/05-own', rec);
    await f.put('pools/other/pre-start.d/01-not-mine', rec);
    await f.put('pre-start.d/30-not-executable', rec, 0o644);
    await f.put('pre-start.d/40-leftover.dpkg-old', rec);
    const r = await f.svc.run(req());
    assert.equal(r.failed, false);
    assert.deepEqual(
      r.runs.map((x) => [x.hook.slice(f.dir.length), x.exitCode]),
      [
        ['/pre-start.d/10-common', 0],
        ['/pre-start.d/20-common', 0],
        ['/pools/tank/pre-start.d/05-own', 0],
      ],
    );
    assert.deepEqual(r.runs[0].output.sort(), ['line1', 'line2']);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    assert.deepEqual(lines, [
      `${f.dir}/pre-start.d/10-common pre-start tank tank node-b 3 failover node-a secret=none`,
      `${f.dir}/pre-start.d/20-common pre-start tank tank node-b 3 failover node-a secret=none`,
      `${f.dir}/pools/tank/pre-start.d/05-own pre-start tank tank node-b 3 failover node-a secret=none`,
    ]);
  } finally {
    await f.done();
  }
});

test('a failing pre-start stops the ones after it; at a stop point every hook runs and the failure is reported', async () => {
  const f = await fixture();
  try {
    await f.put('pre-start.d/10-refuse', '#!/bin/sh\necho "database replica not in sync" >&2\nexit 3\n');
    await f.put('pre-start.d/20-after', '#!/bin/sh\nexit 0\n');
    const r = await f.svc.run(req());
    assert.equal(r.failed, true);
    assert.equal(r.runs.length, 1);
    assert.deepEqual([r.runs[0].exitCode, r.runs[0].output], [3, ['database replica not in sync']]);
    await f.put('pre-stop.d/10-refuse', '#!/bin/sh\nexit 1\n');
    await f.put('pre-stop.d/20-after', '#!/bin/sh\nexit 0\n');
    const s = await f.svc.run(req({ point: 'pre-stop' }));
    assert.equal(s.failed, true);
    assert.deepEqual(
      s.runs.map((x) => x.exitCode),
      [1, 0],
    );
  } finally {
    await f.done();
  }
});

test('a hook that hangs is killed at the timeout with everything it started; the point returns about then', async () => {
  const f = await fixture();
  try {
    const pidFile = join(f.dir, 'child.pid');
    await f.put('post-start.d/10-hang', `#!/bin/sh\necho starting\nsleep 300 &\necho $! > ${pidFile}\nwait\n`);
    const t0 = performance.now();
    const r = await f.svc.run(req({ point: 'post-start', timeoutMs: 1_500 }));
    const ms = performance.now() - t0;
    assert.equal(r.failed, true);
    assert.equal(r.runs[0].timedOut, true);
    assert.equal(r.runs[0].exitCode, null);
    assert.ok(r.runs[0].output.includes('starting'), r.runs[0].output.join('|'));
    assert.ok(ms >= 1_400 && ms < 5_000, `returned after ${ms} ms`);
    const child = Number((await readFile(pidFile, 'utf8')).trim());
    await waitFor(() => !isAlive(child), { timeoutMs: 5_000, intervalMs: 50, what: "the hook's child killed with its group" });
  } finally {
    await f.done();
  }
});

test('once a hang used the time up, the hooks after it are not started (and say so)', async () => {
  const f = await fixture();
  try {
    const marker = join(f.dir, 'ran');
    await f.put('pre-stop.d/10-hang', '#!/bin/sh\nsleep 300\n');
    await f.put('pre-stop.d/20-after', `#!/bin/sh\ntouch ${marker}\n`);
    const r = await f.svc.run(req({ point: 'pre-stop', timeoutMs: 1_000 }));
    assert.deepEqual(
      r.runs.map((x) => [x.timedOut, x.exitCode]),
      [
        [true, null],
        [false, null],
      ],
    );
    assert.match(r.runs[1].output[0], /not run: the 1000 ms of the pre-stop hooks were used up/);
    await assert.rejects(readFile(marker));
  } finally {
    await f.done();
  }
});

test('a hook that anyone may change is not run; no hooks at all is success', async () => {
  const f = await fixture();
  try {
    const none = await f.svc.run(req());
    assert.deepEqual(none, { runs: [], failed: false });
    const marker = join(f.dir, 'ran');
    await f.put('pre-start.d/10-writable', `#!/bin/sh\ntouch ${marker}\n`, 0o777);
    const r = await f.svc.run(req());
    assert.equal(r.failed, true);
    assert.match(r.runs[0].output[0], /not run: .* may be changed by others than root/);
    assert.match(describeHookRun('node-b', r.runs[0]).summary, /was not run; last lines: not run/);
    await assert.rejects(readFile(marker));
  } finally {
    await f.done();
  }
});

test('a hook that leaves a child holding its output does not hold the answer up', async () => {
  const f = await fixture();
  try {
    const pidFile = join(f.dir, 'daemon.pid');
    await f.put('post-start.d/10-daemon', `#!/bin/sh\nsleep 30 &\necho $! > ${pidFile}\necho started\nexit 0\n`);
    const t0 = performance.now();
    const r = await f.svc.run(req({ point: 'post-start' }));
    assert.equal(r.failed, false);
    assert.ok(performance.now() - t0 < 3_000);
    assert.deepEqual(r.runs[0].output, ['started']);
    process.kill(Number((await readFile(pidFile, 'utf8')).trim()), 'SIGKILL');
  } finally {
    await f.done();
  }
});
