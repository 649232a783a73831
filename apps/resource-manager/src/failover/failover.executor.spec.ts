import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readBaseConfig } from '@tandem/config';
import { ErrorCode, TandemError, type HaPool, type ReplicationState } from '@tandem/contracts';
import type { Step, Takeover } from '@tandem/domain';
import { FailoverExecutor } from './failover.executor';
import type { HookCall } from '../pool-hooks.service';
import { POOL_PARALLELISM, TAKEOVER_PARALLELISM } from '../operation-locks';

/*
 * The failover executor on its seams: an in-memory pool record store with compare-and-set (as
 * the KV bucket does it), a host side that records each step it is asked to run (and fails the
 * ones the test says), and recorders for the activity log and the events.
 */
const config = readBaseConfig({ TANDEM_NODE_ID: 'node-b', TANDEM_NATS_URL: 'nats://127.0.0.1:4222' });
const VIP = { interface: 'cli0', address: '10.77.3.50', prefix: 24 };

function fixture(opts: { failStep?: (s: Step) => TandemError | null; replication?: { value: ReplicationState; revision: number }; refuseStart?: boolean } = {}) {
  const records = new Map<string, { pool: HaPool; revision: number }>();
  let revision = 10;
  const pools = {
    get: async (name: string) => records.get(name) ?? null,
    put: async (pool: HaPool, rev: number) => {
      const cur = records.get(pool.name);
      if ((cur?.revision ?? 0) !== rev) throw new TandemError(ErrorCode.InTransition, `pool ${pool.name} was changed by someone else meanwhile`);
      records.set(pool.name, { pool, revision: ++revision });
      return revision;
    },
  };
  const steps: string[] = [];
  const describe = (s: Step) => `${s.kind}@${s.node}`;
  const actions = {
    run: async (_pool: HaPool, list: Step[]) => {
      for (const s of list) {
        const err = opts.failStep?.(s);
        steps.push(`${describe(s)}${err ? ' (fails)' : ''}`);
        if (err) throw err;
      }
    },
    runAll: async (_pool: HaPool, list: Step[]) => {
      for (const s of list) steps.push(`${describe(s)} (rollback)`);
      return [];
    },
    mountpoint: async (pool: string) => `/${pool}`,
    // where the import here found the pool's disks (as PoolActions tells them after an import)
    devicesOf: (pool: HaPool, node: string) => (node === 'node-b' ? { devices: ['/jbod/tank-0', '/jbod/tank-1'] } : pool.devices ? { devices: pool.devices } : {}),
  };
  const activity: string[] = [];
  const hookCalls: HookCall[] = [];
  const events: Array<{ schema: string; pool: string; data: Record<string, unknown> }> = [];
  const executor = new FailoverExecutor(
    { config },
    pools,
    actions,
    { record: async (_a: string, action: string, target: string, result: string) => void activity.push(`${action} ${target} ${result}`) },
    { publish: (def: { schema: string }, pool: string, data: unknown) => void events.push({ schema: def.schema, pool, data: data as Record<string, unknown> }) },
    { get: async () => opts.replication ?? null },
    {
      preStart: async (c: HookCall) => {
        steps.push(`hook:pre-start@${c.node}${opts.refuseStart ? ' (fails)' : ''}`);
        hookCalls.push(c);
        if (opts.refuseStart) throw new TandemError(ErrorCode.CommandFailed, `the pre-start hooks refused to start pool ${c.pool} on ${c.node}: hook 10-check exited 3`);
      },
      background: (point: string, c: HookCall) => {
        steps.push(`hook:${point}@${c.node} (background)`);
        hookCalls.push(c);
      },
    },
  );
  return { executor, records, steps, activity, events, hookCalls };
}

const serving = (over: Partial<HaPool> = {}): HaPool => ({
  name: 'tank',
  state: 'serving',
  node: 'node-a',
  operation: null,
  reason: null,
  vips: [VIP],
  shares: [{ name: 'files', protocol: 'smb', path: '', readOnly: false, clients: [], rootSquash: true, users: [], guest: true }],
  fc: false,
  epoch: 4,
  mountpoint: '/tank',
  updatedAt: '',
  ...over,
});
const takeover = (reason: Takeover['reason']): Takeover => ({ pool: 'tank', action: 'failover', from: 'node-a', to: 'node-b', reason, force: reason === 'node-down' });

test('a lost owner: forced import here under the next epoch, IPs, shares; the record says serving here, failed on the owner; one event with the split', async () => {
  const f = fixture();
  f.records.set('tank', { pool: serving(), revision: 1 });
  await f.executor.takeOver(takeover('node-down'), 4_200, 3_000);
  // a lost owner runs no hook; this node's pre-start before the import, its post-start in the background once it serves
  assert.deepEqual(f.steps, ['hook:pre-start@node-b', 'pool.import@node-b', 'ip.add@node-b', 'share.start@node-b', 'hook:post-start@node-b (background)']);
  assert.deepEqual(
    f.hookCalls.map((c) => [c.node, c.epoch, c.reason, c.peer]),
    [
      ['node-b', 5, 'failover', 'node-a'],
      ['node-b', 5, 'failover', 'node-a'],
    ],
  );
  const rec = f.records.get('tank')!.pool;
  assert.deepEqual([rec.state, rec.node, rec.epoch, rec.failedOn], ['serving', 'node-b', 5, ['node-a']]);
  assert.ok(rec.lastFailoverAt, 'the hold-down counts from here');
  assert.deepEqual(rec.devices, ['/jbod/tank-0', '/jbod/tank-1'], 'where its disks were found: the next import reads only those');
  assert.deepEqual(f.activity, ['pool.failover tank started', 'pool.failover tank succeeded']);
  const ev = f.events.find((e) => e.schema === 'tandem.pool.failed-over/1')!;
  assert.deepEqual([ev.data.from, ev.data.to, ev.data.reason, ev.data.epoch], ['node-a', 'node-b', 'node-down', 5]);
  const timings = ev.data.timings as { detectionMs: number; fenceWaitMs: number; totalMs: number };
  assert.deepEqual([timings.detectionMs, timings.fenceWaitMs], [3_000, 1_200]);
  assert.ok(timings.totalMs >= 4_200);
});

test('a live owner (client link down) lets go first, in the fence order, before anything is imported here', async () => {
  const f = fixture();
  f.records.set('tank', { pool: serving(), revision: 1 });
  await f.executor.takeOver(takeover('client-link-down'), 0, 3_000);
  // no pre-stop hook holds the fence up; the owner's post-stop runs after the release, in the background
  assert.deepEqual(f.steps, [
    'ip.remove@node-a',
    'share.stop@node-a (rollback)',
    'pool.export@node-a',
    'hook:post-stop@node-a (background)',
    'hook:pre-start@node-b',
    'pool.import@node-b',
    'ip.add@node-b',
    'share.start@node-b',
    'hook:post-start@node-b (background)',
  ]);
});

test('an owner that cannot release the pool keeps it: served there again, nothing imported here', async () => {
  const f = fixture({ failStep: (s) => (s.kind === 'pool.export' ? new TandemError(ErrorCode.PoolBusy, 'pool is busy') : null) });
  f.records.set('tank', { pool: serving(), revision: 1 });
  await f.executor.takeOver(takeover('client-link-down'), 0, 3_000);
  assert.ok(!f.steps.some((s) => s.endsWith('@node-b')), `nothing on node-b: ${f.steps.join(', ')}`);
  const rec = f.records.get('tank')!.pool;
  assert.deepEqual([rec.state, rec.node, rec.epoch], ['serving', 'node-a', 4]);
  assert.match(rec.reason ?? '', /releasing it on node-a failed/);
});

test('an import that fails here is rolled back here; the pool is inactive, failed on both nodes, with why', async () => {
  const f = fixture({ failStep: (s) => (s.kind === 'pool.import' ? new TandemError(ErrorCode.PoolNotImportable, 'no such pool') : null) });
  f.records.set('tank', { pool: serving(), revision: 1 });
  await f.executor.takeOver(takeover('node-down'), 4_000, 3_000);
  const rec = f.records.get('tank')!.pool;
  assert.deepEqual([rec.state, rec.epoch, rec.failedOn], ['inactive', 5, ['node-a', 'node-b']]);
  assert.match(rec.reason ?? '', /failover from node-a to node-b failed: .*no such pool/);
  assert.ok(f.steps.some((s) => s.endsWith('(rollback)')));
  assert.deepEqual(
    f.events.map((e) => e.schema),
    ['tandem.pool.failover-failed/1'],
  );
});

test('a record that changed meanwhile (another node acted first, or the pool moved) is left alone', async () => {
  const moved = fixture();
  moved.records.set('tank', { pool: serving({ node: 'node-c', epoch: 5 }), revision: 1 });
  await moved.executor.takeOver(takeover('node-down'), 4_000, 3_000);
  assert.deepEqual([moved.steps, moved.events], [[], []]);
  // the compare-and-set loses a race: nothing runs
  const raced = fixture();
  raced.records.set('tank', { pool: serving(), revision: 1 });
  const realGet = raced.records.get.bind(raced.records);
  let first = true;
  raced.records.get = (k: string) => {
    const r = realGet(k);
    if (r && first) {
      first = false;
      return { ...r, revision: 0 }; // read before someone else's write
    }
    return r;
  };
  await raced.executor.takeOver(takeover('node-down'), 4_000, 3_000);
  assert.deepEqual(raced.steps, []);
});

test('giving a pool up: inactive with the reason, only while the fresh record still leaves no node', async () => {
  const f = fixture();
  f.records.set('tank', { pool: serving({ failedOn: ['node-b'] }), revision: 1 });
  const d = { pool: 'tank', action: 'inactive' as const, from: 'node-a', reason: 'node-down' as const, why: 'no healthy node left to run it (failed on: node-b, node-a)' };
  const nodes = [
    { id: 'node-a', online: true, liveness: 'down' as const, clientLinkUp: null, faultedPools: [] },
    { id: 'node-b', online: true, liveness: 'up' as const, clientLinkUp: true, faultedPools: [] },
  ];
  await f.executor.giveUp(d, nodes);
  const rec = f.records.get('tank')!.pool;
  assert.deepEqual([rec.state, rec.failedOn], ['inactive', ['node-b', 'node-a']]);
  // an operator marked node-b usable meanwhile: the fresh record has a node to go to
  const g = fixture();
  g.records.set('tank', { pool: serving({ failedOn: [] }), revision: 1 });
  await g.executor.giveUp(d, nodes);
  assert.equal(g.records.get('tank')!.pool.state, 'serving');
});

test('a replicated pool taken over automatically: its own copy is imported (never forced), the live owner keeps its copy for retrieval, sync is locked with how old the copy is', async () => {
  const lastAt = new Date(Date.now() - 90_000).toISOString();
  const replication: ReplicationState = {
    pool: 'tank',
    source: 'node-a',
    newestSnapshot: null,
    nextSnapshotAt: null,
    keepAsideOn: [],
    updatedAt: '',
    replicas: {
      'node-b': {
        state: 'in-sync',
        reason: null,
        newestCommon: { name: 'tandem-20261203-120000', guid: '7', createdAt: lastAt },
        lagSeconds: 0,
        lagBytes: 0,
        lastTransfer: null,
        progress: null,
        failures: 0,
        nextPullAt: null,
      },
    },
  };
  const f = fixture({ replication: { value: replication, revision: 3 } });
  f.records.set('tank', { pool: serving({ mode: 'replicated' }), revision: 1 });
  await f.executor.takeOver(takeover('client-link-down'), 0, 3_000);
  assert.deepEqual(f.steps, [
    'ip.remove@node-a',
    'share.stop@node-a (rollback)',
    'pool.demote@node-a',
    'hook:post-stop@node-a (background)',
    'hook:pre-start@node-b',
    'pool.import@node-b',
    'ip.add@node-b',
    'share.start@node-b',
    'hook:post-start@node-b (background)',
  ]);
  const rec = f.records.get('tank')!.pool;
  assert.deepEqual(
    [rec.state, rec.node, rec.syncLock?.from, rec.syncLock?.to, rec.syncLock?.lastSnapshot, rec.syncLock?.lastSnapshotAt],
    ['serving', 'node-b', 'node-a', 'node-b', 'tandem-20261203-120000', lastAt],
  );
  const locked = f.events.find((e) => e.schema === 'tandem.replication.locked/1')!;
  assert.equal(locked.data.message, 'Failover occurred. Sync for tank is locked!');
  assert.ok((locked.data.possiblyMissingS as number) >= 90);
});

test('a round with many takeovers carries them out side by side: TAKEOVER_PARALLELISM imports asked at once, their IPs and shares POOL_PARALLELISM at a time; each pool ends serving here', async () => {
  const f = fixture();
  const n = TAKEOVER_PARALLELISM + 8;
  for (let i = 0; i < n; i++) f.records.set(`p${i}`, { pool: serving({ name: `p${i}`, vips: [{ ...VIP, address: `10.77.3.${100 + i}` }] }), revision: 1 });
  const held = { 'pool.import': { running: 0, most: 0, gates: [] as Array<() => void> }, 'ip.add': { running: 0, most: 0, gates: [] as Array<() => void> } };
  const run = f.executor['actions'].run;
  (f.executor as unknown as { actions: { run: typeof run } }).actions.run = async (pool, list, mp) => {
    const kind = list.find((s) => s.kind === 'pool.import' || s.kind === 'ip.add')?.kind as keyof typeof held | undefined;
    if (kind) {
      const h = held[kind];
      h.running++;
      h.most = Math.max(h.most, h.running);
      await new Promise<void>((r) => h.gates.push(r));
      h.running--;
    }
    return run(pool, list, mp);
  };
  const round = {
    takeovers: Array.from({ length: n }, (_, i) => ({ decision: { ...takeover('node-down'), pool: `p${i}` }, ownerSilentMs: 4_000, heartbeatTimeoutMs: 3_000 })),
    giveUps: [],
  } as unknown as Parameters<FailoverExecutor['carryOut']>[0];
  const done = f.executor.carryOut(round);
  const until = async (ok: () => boolean) => {
    while (!ok()) await new Promise((r) => setImmediate(r));
  };
  // the first TAKEOVER_PARALLELISM imports are asked at once (the host-executor imports those waiting together in one command)
  await until(() => held['pool.import'].gates.length === TAKEOVER_PARALLELISM);
  assert.equal(held['pool.import'].running, TAKEOVER_PARALLELISM, 'the first imports asked side by side');
  // every import let through as it comes, an IP only when no import waits: the IPs wait, POOL_PARALLELISM of them at a time
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    const next = held['pool.import'].gates.shift() ?? (held['ip.add'].gates.length === POOL_PARALLELISM || (held['pool.import'].running as number) === 0 ? held['ip.add'].gates.shift() : undefined);
    if (next) next();
    await new Promise((r) => setImmediate(r));
  }
  await done;
  assert.equal(held['pool.import'].most, TAKEOVER_PARALLELISM);
  assert.equal(held['ip.add'].most, POOL_PARALLELISM);
  for (let i = 0; i < n; i++) assert.deepEqual([f.records.get(`p${i}`)!.pool.state, f.records.get(`p${i}`)!.pool.node], ['serving', 'node-b'], `p${i}`);
});

test('a pre-start hook that refuses: nothing is imported here; the record is as before with this node failed too, so the next round looks elsewhere', async () => {
  const f = fixture({ refuseStart: true });
  f.records.set('tank', { pool: serving(), revision: 1 });
  await f.executor.takeOver(takeover('node-down'), 4_200, 3_000);
  assert.deepEqual(f.steps, ['hook:pre-start@node-b (fails)'], 'nothing imported, nothing to roll back');
  const rec = f.records.get('tank')!.pool;
  assert.deepEqual([rec.state, rec.node, rec.epoch, rec.failedOn], ['serving', 'node-a', 4, ['node-b']]);
  assert.match(rec.reason ?? '', /pre-start hooks refused to start pool tank on node-b: hook 10-check exited 3/);
  assert.deepEqual(f.activity, ['pool.failover tank started', 'pool.failover tank failed']);
  // the next round has no node left: inactive, the refusal in the reason
  await f.executor.giveUp({ pool: 'tank', action: 'inactive', from: 'node-a', reason: 'node-down', why: 'no healthy node left to run it (failed on: node-b, node-a)' }, [
    { id: 'node-a', online: true, liveness: 'down', clientLinkUp: null, faultedPools: [] },
    { id: 'node-b', online: true, liveness: 'up', clientLinkUp: true, faultedPools: [] },
  ]);
  const after = f.records.get('tank')!.pool;
  assert.equal(after.state, 'inactive');
  assert.match(after.reason ?? '', /no healthy node left .*; the pre-start hooks refused to start pool tank on node-b/);
});
