import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { ErrorCode, type ActivityEntry, type HookPoint, type RmOperation, type RmOpRequest, type SnapshotSchedule } from '@tandem/contracts';
import { HostClient, ResourceManagerClient, retryWhileUnavailable } from '@tandem/messaging';
import { Testbed, isAlive, type TestbedStatus } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { OtlpCollector } from '../support/otlp-collector';
import { setUpTwoNodeCluster } from '../support/cluster';
import { printNodeLogsOnFailure } from '../support/failure-logs';
import { runTandem, trustTestbedApis } from '../support/tandem-cli';

/**
 * Per-pool hooks and snapshot schedules on the testbed, one cluster for the whole file: a hook
 * that records every run (installed in each node's hooks directory through the node itself)
 * sees the order and environment of an attach and a move; a pre-start hook that refuses sends
 * the pool back where it was, with its message in the activity log; a hook that hangs is killed
 * at its timeout; a schedule takes and prunes snapshots on the serving node and goes on on the
 * other node after the owner loses power.
 */
// the hooks of one point get 3 s here (default 30 s), passed to the testbed's services
const HOOK_TIMEOUT_MS = 3_000;
process.env.TANDEM_HOOK_TIMEOUT_MS = String(HOOK_TIMEOUT_MS);

describe('per-pool hooks and snapshot schedules (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const POOL = 'hooked';
  const VIP = '10.77.3.95';
  const NODES = ['node-a', 'node-b'] as const;
  const POINTS: HookPoint[] = ['pre-start', 'post-start', 'pre-stop', 'post-stop'];
  const traces = new OtlpCollector();
  printNodeLogsOnFailure(() => tb.root, [...NODES]);
  let status: TestbedStatus;
  let nc: NatsConnection;
  let host: HostClient;
  let rmc: ResourceManagerClient;
  let recordLog = '';

  const rm = <O extends RmOperation>(op: O, req: RmOpRequest<O>, waitForMs = 30_000) =>
    retryWhileUnavailable(() => rmc.call(op, req, 60_000), { waitForMs, codes: [ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.NotLeader] });
  const api = (node: string) => status.nodes.find((n) => n.name === node)!.api!;

  /** A hook file written inside the node (its hooks directory: /etc/tandem/hooks on a real node). */
  async function install(node: string, rel: string, body: string): Promise<string> {
    const path = join(tb.paths.hooksDir(node), rel);
    const r = await tb.exec(node, ['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod 0755 "$1"', 'install-hook', path], { input: body });
    assert.equal(r.exitCode, 0, r.stderr);
    return path;
  }
  async function uninstall(node: string, rel: string): Promise<void> {
    assert.equal((await tb.exec(node, ['rm', '-f', join(tb.paths.hooksDir(node), rel)])).exitCode, 0);
  }

  /** What the recording hook wrote: one line per run, `point node pool epoch reason peer argv1 argv2`. */
  const recorded = (): string[] => {
    try {
      return readFileSync(recordLog, 'utf8').trim().split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };

  /** The activity log about the pool, as the API of `node` serves it (oldest first). */
  async function activity(node: string): Promise<ActivityEntry[]> {
    const res = await fetch(`${api(node)}/api/v1/activity?pool=${POOL}&limit=500`);
    assert.equal(res.status, 200);
    return ((await res.json()) as ActivityEntry[]).reverse();
  }
  async function waitForActivity(node: string, what: string, match: (e: ActivityEntry) => boolean): Promise<ActivityEntry> {
    let seen: ActivityEntry[] = [];
    return waitFor(
      async () => {
        seen = await activity(node);
        return seen.find(match);
      },
      { timeoutMs: 30_000, intervalMs: 500, what },
    ).catch((err: Error) => assert.fail(`${err.message}; hook entries: ${JSON.stringify(seen.filter((e) => e.action.startsWith('pool.hook')).slice(-8))}`));
  }

  /** The schedule's snapshots of a dataset on `node`, asked of its zfs (oldest first). */
  async function scheduled(node: string, dataset: string, schedule: string): Promise<string[]> {
    const r = await tb.exec(node, ['zfs', 'list', '-H', '-t', 'snapshot', '-o', 'name', '-s', 'name', '-r', dataset], { timeoutMs: 15_000 });
    if (r.exitCode !== 0) throw new Error(`zfs list on ${node}: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith(`${dataset}@tandem-${schedule}-`))
      .map((l) => l.slice(dataset.length + 1));
  }

  before(() =>
    setUpTwoNodeCluster(tb, traces, POOL, async (up) => {
      ({ status, nc } = up);
      trustTestbedApis(status);
      host = new HostClient(nc);
      rmc = new ResourceManagerClient(nc);
      recordLog = join(tb.paths.nodeDir('node-a'), '..', 'hook-record.log');
      await host.call('node-a', 'dataset.create', { dataset: `${POOL}/data` });
      // a hook for every pool, at every point, on both nodes: it records what it was told
      const recorder = `#!/bin/sh\necho "$TANDEM_HOOK $TANDEM_NODE $TANDEM_POOL $TANDEM_EPOCH $TANDEM_REASON \${TANDEM_PEER:--} $1 $2 secret=\${TANDEM_NATS_SEED_FILE:-none}" >> ${recordLog}\necho "recorded $TANDEM_HOOK on $TANDEM_NODE"\n`;
      for (const node of NODES) for (const point of POINTS) await install(node, `${point}.d/10-record`, recorder);
    }),
  );

  after(async () => {
    await nc?.close().catch(() => undefined);
    await traces.stop();
    if (process.env.TANDEM_E2E_KEEP !== '1') await tb.down();
  });

  test('attach, then a move: the hooks run in order on each node with the pool, node, epoch, reason and peer; each run is in the activity log', async () => {
    const attached = await rm('pool.attach', { pool: POOL, node: 'node-a', vips: [`cli0:${VIP}/24`] });
    assert.deepEqual([attached.state, attached.node], ['serving', 'node-a']);
    const e1 = attached.epoch;
    const moved = await rm('pool.move', { pool: POOL, to: 'node-b' });
    assert.deepEqual([moved.state, moved.node], ['serving', 'node-b']);
    const e2 = moved.epoch;
    assert.deepEqual(recorded(), [
      `pre-start node-a ${POOL} ${e1} attach - pre-start ${POOL} secret=none`,
      `post-start node-a ${POOL} ${e1} attach - post-start ${POOL} secret=none`,
      `pre-stop node-a ${POOL} ${e1} move node-b pre-stop ${POOL} secret=none`,
      `post-stop node-a ${POOL} ${e1} move node-b post-stop ${POOL} secret=none`,
      `pre-start node-b ${POOL} ${e2} move node-a pre-start ${POOL} secret=none`,
      `post-start node-b ${POOL} ${e2} move node-a post-start ${POOL} secret=none`,
    ]);
    const entry = await waitForActivity('node-b', 'the post-start run on node-b in the activity log', (e) => e.action === 'pool.hook.post-start' && (e.detail ?? '').includes('on node-b'));
    assert.equal(entry.result, 'succeeded');
    assert.match(entry.detail ?? '', /hook \S+\/post-start\.d\/10-record on node-b exited 0 after \d+ ms; last lines: recorded post-start on node-b/);
    const hookRuns = (await activity('node-b')).filter((e) => e.action.startsWith('pool.hook.'));
    assert.deepEqual(
      hookRuns.map((e) => `${e.action} ${e.result}`),
      ['pre-start', 'post-start', 'pre-stop', 'post-stop', 'pre-start', 'post-start'].map((p) => `pool.hook.${p} succeeded`),
    );
  });

  test('a pre-start hook that refuses: the move fails with its message, the pool serves where it was, the run is in the log with its exit and last lines', async () => {
    await install(
      'node-a',
      `pools/${POOL}/pre-start.d/20-refuse`,
      '#!/bin/sh\necho "checking replicas of the database"\necho "node-a is in a maintenance window: not starting hooked here" >&2\nexit 3\n',
    );
    const before = recorded().length;
    const r = await runTandem(api('node-b'), ['pool', 'move', POOL, '--to', 'node-a'], { ca: status.ca, timeoutMs: 120_000 });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /pre-start hooks refused to start pool hooked on node-a: hook \S+20-refuse on node-a exited 3 .*maintenance window/);
    const p = await rm('pool.get', { pool: POOL });
    assert.deepEqual([p.state, p.node], ['serving', 'node-b'], 'served where it was');
    const got = recorded().slice(before);
    assert.deepEqual(
      got.map((l) => l.split(' ').slice(0, 2).join(' ') + ' ' + l.split(' ')[4]),
      ['pre-stop node-b move', 'post-stop node-b move', 'pre-start node-a move', 'pre-start node-b restore', 'post-start node-b restore'],
      'node-a ran its every-pool pre-start, then its pool hook refused: nothing after it ran there',
    );
    const refused = await waitForActivity('node-b', 'the refused pre-start in the log', (e) => e.action === 'pool.hook.pre-start' && e.result === 'failed');
    assert.match(refused.error ?? '', /20-refuse on node-a exited 3 after \d+ ms; last lines: checking replicas of the database \| node-a is in a maintenance window/);
    const move = await waitForActivity('node-b', 'the failed move in the log', (e) => e.action === 'pool.move' && e.result === 'failed');
    assert.match(move.error ?? '', /maintenance window/);
    await uninstall('node-a', `pools/${POOL}/pre-start.d/20-refuse`);
  });

  test('a post-start hook that hangs is killed at its timeout with what it started; the pool serves all the same', async () => {
    const pidFile = join(tb.paths.nodeDir('node-a'), 'hang.pid');
    await install('node-a', `pools/${POOL}/post-start.d/30-hang`, `#!/bin/sh\necho "waiting for an answer that never comes"\nsleep 600 &\necho $! > ${pidFile}\nwait\n`);
    const t0 = performance.now();
    const p = await rm('pool.move', { pool: POOL, to: 'node-a' });
    const ms = performance.now() - t0;
    assert.deepEqual([p.state, p.node], ['serving', 'node-a']);
    assert.ok(ms >= HOOK_TIMEOUT_MS, `the move waited for the post-start hooks' timeout (${Math.round(ms)} ms)`);
    const killed = await waitForActivity('node-a', 'the hung hook killed, in the log', (e) => e.action === 'pool.hook.post-start' && e.result === 'failed');
    assert.match(killed.error ?? '', /30-hang on node-a killed at its timeout after \d+ ms; last lines: waiting for an answer that never comes/);
    const child = Number(readFileSync(pidFile, 'utf8').trim());
    await waitFor(() => !isAlive(child), { timeoutMs: 5_000, intervalMs: 100, what: `the hook's child ${child} killed with its process group` });
    await uninstall('node-a', `pools/${POOL}/post-start.d/30-hang`);
  });

  let beforeFailover: string[] = [];
  test('a schedule (every 10s, keep 2, given with the CLI) takes recursive snapshots on the serving node and prunes the oldest', async () => {
    const bad = await runTandem(api('node-a'), ['pool', 'schedule', 'add', POOL, 'quick', '--every', '5s', '--keep', '2'], { ca: status.ca });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--every: must be at least 10s/);
    const add = await runTandem(api('node-a'), ['pool', 'schedule', 'add', POOL, 'quick', '--every', '10s', '--keep', '2'], { ca: status.ca });
    assert.equal(add.code, 0, add.stderr);
    const list = await runTandem(api('node-b'), ['--json', 'pool', 'schedule', 'list', POOL], { ca: status.ca });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout) as SnapshotSchedule[], [{ name: 'quick', everyS: 10, keep: 2 }]);
    const seen = new Set<string>();
    let now: string[] = [];
    await waitFor(
      async () => {
        now = await scheduled('node-a', POOL, 'quick');
        now.forEach((s) => seen.add(s));
        // three taken, the first already destroyed, two kept
        return seen.size >= 3 && now.length === 2 && !now.includes([...seen].sort()[0]);
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'three scheduled snapshots taken on node-a, the oldest pruned' },
    ).catch((err: Error) => assert.fail(`${err.message}: seen ${[...seen].join(', ')}; now ${now.join(', ')}`));
    for (const s of now) assert.match(s, /^tandem-quick-\d{8}-\d{6}$/);
    assert.deepEqual(await scheduled('node-a', `${POOL}/data`, 'quick'), now, 'recursive: the child dataset has the same, pruned the same');
    assert.ok(
      (await tb.exec('node-b', ['zpool', 'list', '-H', '-o', 'name'])).stdout.split('\n').every((l) => l !== POOL),
      'nothing of it on node-b',
    );
    beforeFailover = now;
  });

  test("the owner loses power: node-b's pre-start runs for the failover, and the schedule goes on there, pruning as before", async () => {
    await tb.powerOff('node-a');
    const p = await waitFor(
      async () => {
        const r = await rmc.call('pool.get', { pool: POOL }, 2_000);
        return r.state === 'serving' && r.node === 'node-b' ? r : null;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `pool ${POOL} serving on node-b after node-a's power-off` },
    );
    assert.ok(recorded().includes(`pre-start node-b ${POOL} ${p.epoch} failover node-a pre-start ${POOL} secret=none`), recorded().slice(-3).join('\n'));
    await waitFor(() => recorded().includes(`post-start node-b ${POOL} ${p.epoch} failover node-a post-start ${POOL} secret=none`), {
      timeoutMs: 10_000,
      what: "node-b's post-start hooks after the failover",
    });
    const newest = beforeFailover[beforeFailover.length - 1];
    let now: string[] = [];
    await waitFor(
      async () => {
        now = await scheduled('node-b', POOL, 'quick');
        // two newer than any node-a took, node-a's all pruned by node-b
        return now.length === 2 && now.every((s) => s > newest);
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'node-b taking the schedule on and pruning what node-a took' },
    ).catch((err: Error) => assert.fail(`${err.message}: node-b has ${now.join(', ')}; node-a's newest was ${newest}`));
    const taken = await waitForActivity('node-b', 'the failover in the log', (e) => e.action === 'pool.failover' && e.result === 'succeeded');
    assert.equal(taken.actor, 'cluster');
  });
});
