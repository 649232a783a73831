import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { NatsConnection } from 'nats';
import { ErrorCode, TandemError, type PoolOpRequest, type RmOperation, type RmOpRequest } from '@tandem/contracts';
import { HostClient, ResourceManagerClient, retryWhileUnavailable } from '@tandem/messaging';
import { Testbed, type TestbedStatus, observerConnection } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { killService } from '../support/services';

/**
 * HA pool operations on the testbed: a client reads and writes through an SMB share on the
 * pool's floating IP before and after moves; after every step the pool is imported on exactly
 * one node and its IP is up on exactly one node, asked of every node directly.
 */
describe('HA pool operations (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const VIP = '10.77.3.60';
  const NODES = ['node-a', 'node-b'];
  let status: TestbedStatus;
  let nc: NatsConnection;
  let host: HostClient;
  let mnt = '';
  const nodeByName = (name: string) => status.nodes.find((n) => n.name === name)!;

  /** A pool or cluster operation of the active resource-manager. */
  const rm = <O extends RmOperation>(op: O, req: RmOpRequest<O>) => new ResourceManagerClient(nc).call(op, req, 120_000);
  const cl = rm;

  // right after start-up the resource-manager lease may not be taken yet
  const rmWhenReady = <T>(call: () => Promise<T>) => retryWhileUnavailable(call, { waitForMs: 10_000 });

  /** Where the pool is imported and the VIP is up — from each node's own zfs and ip. */
  async function where(pool: string): Promise<{ imported: string[]; vip: string[] }> {
    const imported: string[] = [];
    const vip: string[] = [];
    for (const n of NODES) {
      if ((await tb.exec(n, ['zpool', 'list', '-H', '-o', 'name'])).stdout.split('\n').includes(pool)) imported.push(n);
      if ((await tb.exec(n, ['ip', '-o', 'addr', 'show', 'dev', 'cli0'])).stdout.includes(` ${VIP}/`)) vip.push(n);
    }
    return { imported, vip };
  }

  async function assertServedOn(pool: string, node: string): Promise<void> {
    assert.deepEqual(await where(pool), { imported: [node], vip: [node] }, `${pool} imported and its IP up on ${node} only`);
  }

  async function smb(cmd: string): Promise<string> {
    const r = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-c', cmd], { timeoutMs: 30_000 });
    assert.equal(r.exitCode, 0, `smbclient ${cmd}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  before(async () => {
    status = await tb.up({ nodes: 2 });
    mnt = join(dirname(status.jbod), 'mnt', 'tank');
    nc = await observerConnection(status);
    host = new HostClient(nc);
    await host.call('node-a', 'pool.create', { pool: 'tank', vdevs: ['tank-0', 'tank-1'], sizeMiB: 128, mountpoint: mnt });
    await host.call('node-a', 'dataset.create', { dataset: 'tank/files', mode: '1777' });
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await tb.down();
  });

  test('cluster: formed on node-a over the heartbeat interface, node-b joins', async () => {
    await assert.rejects(
      rmWhenReady(() => rm('pool.list', {})).then(() => rm('pool.attach', { pool: 'tank', node: 'node-a', vips: [`cli0:${VIP}/24`] })),
      (err: unknown) => {
        assert.ok(err instanceof TandemError);
        assert.equal(err.code, ErrorCode.NotFound);
        assert.match(err.message, /create one first/);
        return true;
      },
    );
    await assert.rejects(
      cl('cluster.create', { node: 'node-a', heartbeatInterface: 'nosuch0' }),
      (err: unknown) => err instanceof TandemError && err.code === ErrorCode.InterfaceNotFound && err.field === 'heartbeatInterface',
    );
    await assert.rejects(
      cl('cluster.create', { node: 'node-a', heartbeatInterface: 'hb0;reboot' }),
      (err: unknown) => err instanceof TandemError && err.code === ErrorCode.InvalidArgument && err.field === 'heartbeatInterface',
    );
    const created = await cl('cluster.create', { node: 'node-a', heartbeatInterface: 'hb0' });
    assert.deepEqual(
      created.nodes.map((n) => [n.id, n.heartbeatAddress, n.adminState]),
      [['node-a', nodeByName('node-a').addresses.heartbeat, 'online']],
    );
    await assert.rejects(cl('cluster.create', { node: 'node-b', heartbeatInterface: 'hb0' }), (err: unknown) => err instanceof TandemError && err.code === ErrorCode.AlreadyExists);
    const joined = await cl('cluster.join', { node: 'node-b' });
    assert.deepEqual(
      joined.nodes.map((n) => n.id),
      ['node-a', 'node-b'],
    );
    await assert.rejects(cl('cluster.join', { node: 'node-b' }), (err: unknown) => err instanceof TandemError && err.code === ErrorCode.AlreadyExists && err.field === 'node');
    await assert.rejects(cl('cluster.join', { node: 'node-q' }), (err: unknown) => err instanceof TandemError && err.code === ErrorCode.Unavailable && err.field === 'node');
    const st = await cl('cluster.status', {});
    assert.equal(st.cluster?.heartbeatInterface, 'hb0');
    assert.deepEqual(
      st.nodes.map((n) => [n.id, n.state, n.health, n.heartbeatLink]),
      [
        ['node-a', 'online', 'healthy', 'up'],
        ['node-b', 'online', 'healthy', 'up'],
      ],
    );
    assert.equal(st.nodes.filter((n) => n.thisNode).length, 1);
  });

  test('attach: imported, floating IP up, SMB share served to the client', async () => {
    const pool = await rm('pool.attach', { pool: 'tank', node: 'node-a', vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files', guest: true }] });
    assert.equal(pool.state, 'serving');
    assert.equal(pool.node, 'node-a');
    assert.equal(pool.epoch, 1);
    await assertServedOn('tank', 'node-a');
    await tb.client(['sh', '-c', 'echo before-move > /tmp/before.txt']);
    await smb('put /tmp/before.txt before.txt');
    assert.match(await smb('ls'), /before\.txt/);
  });

  test('attach refuses bad input and clashes, changing nothing', async () => {
    const cases: Array<[PoolOpRequest<'pool.attach'>, ErrorCode, string]> = [
      [{ pool: '; rm -rf /', node: 'node-a', vips: [`cli0:${VIP}/24`] }, ErrorCode.InvalidArgument, 'pool'],
      [{ pool: 'tank2', node: 'node-a', vips: ['cli0:999.1.1.1/24'] }, ErrorCode.InvalidArgument, 'vips.0'],
      [{ pool: 'tank2', node: 'node-a', vips: ['cli0:10.77.3.61/40'] }, ErrorCode.InvalidArgument, 'vips.0'],
      [{ pool: 'tank2', node: 'node-a', vips: [] }, ErrorCode.InvalidArgument, 'vips'],
      [{ pool: 'tank2', node: 'node-z', vips: ['cli0:10.77.3.61/24'] }, ErrorCode.UnknownNode, 'node'],
      [{ pool: 'tank2', node: 'node-a', vips: ['cli0:10.77.3.61/24'], shares: [{ name: 'x', protocol: 'smb', path: '../etc' }] }, ErrorCode.InvalidArgument, 'shares.0.path'],
      [{ pool: 'tank2', node: 'node-a', vips: ['nosuch0:10.77.3.61/24'] }, ErrorCode.InterfaceNotFound, 'vips'],
      // never on the cluster's own links: the heartbeat interface
      [{ pool: 'tank2', node: 'node-a', vips: ['hb0:10.77.1.61/24'] }, ErrorCode.InvalidArgument, 'vips'],
      [{ pool: 'tank2', node: 'node-a', vips: [`cli0:${VIP}/24`] }, ErrorCode.AddressInUse, 'vips'],
      [{ pool: 'tank2', node: 'node-a', vips: ['cli0:10.77.3.11/24'] }, ErrorCode.AddressInUse, 'vips'],
      [{ pool: 'tank', node: 'node-a', vips: ['cli0:10.77.3.61/24'] }, ErrorCode.AlreadyExists, 'pool'],
      [{ pool: 'nopool', node: 'node-a', vips: ['cli0:10.77.3.61/24'] }, ErrorCode.PoolNotImportable, 'pool'],
    ];
    for (const [req, code, field] of cases) {
      await assert.rejects(rm('pool.attach', req), (err: unknown) => {
        assert.ok(err instanceof TandemError, String(err));
        assert.equal(err.code, code, `${JSON.stringify(req)}: ${err.message}`);
        assert.equal(err.field, field, `${JSON.stringify(req)}: ${err.message}`);
        return true;
      });
    }
    assert.deepEqual(
      (await rm('pool.list', {})).map((p) => p.name),
      ['tank'],
    );
    // asked of a host-executor directly, the same: nothing goes up on the heartbeat network
    await assert.rejects(
      host.call('node-a', 'ip.add', { interface: 'hb0', address: '10.77.1.61', prefix: 24 }),
      (err: unknown) => err instanceof TandemError && err.code === ErrorCode.InvalidArgument && err.field === 'interface',
    );
    await assert.rejects(
      host.call('node-a', 'ip.add', { interface: 'cli0', address: '10.77.1.12', prefix: 24 }),
      (err: unknown) => err instanceof TandemError && err.code === ErrorCode.InvalidArgument && err.field === 'address',
    );
    assert.ok(!(await host.call('node-a', 'ip.list', { interface: 'hb0' })).some((a) => a.address === '10.77.1.61'), 'nothing was added');
    await assertServedOn('tank', 'node-a');
  });

  test('move: the client reads and writes through the same IP on the other node', async () => {
    const t0 = performance.now();
    const moved = await rm('pool.move', { pool: 'tank', to: 'node-b' });
    const ms = performance.now() - t0;
    assert.equal(moved.node, 'node-b');
    assert.equal(moved.epoch, 2);
    await assertServedOn('tank', 'node-b');
    assert.match(await smb('get before.txt /tmp/got.txt; put /tmp/before.txt after-move.txt; ls'), /after-move\.txt/);
    assert.equal((await tb.client(['cat', '/tmp/got.txt'])).stdout, 'before-move\n');
    process.stderr.write(`move took ${Math.round(ms)} ms\n`);
  });

  test("a node refuses to import a managed pool outside the cluster's authority: no epoch, or one beyond the record's next", async () => {
    const p = await rm('pool.get', { pool: 'tank' });
    const other = p.node === 'node-a' ? 'node-b' : 'node-a';
    const refused = async (req: { pool: string; epoch?: number; force?: boolean }, re: RegExp) =>
      assert.rejects(host.call(other, 'pool.import', req), (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InvalidArgument && e.field === 'epoch' && re.test(e.message));
    await refused({ pool: 'tank', force: true }, /pool tank is under cluster control \(epoch \d+\): an import to serve it must carry its fencing epoch/);
    await refused({ pool: 'tank', force: true, epoch: p.epoch + 5 }, /beyond the pool record's/);
    // the schema itself refuses what no cluster reaches
    await assert.rejects(
      host.call(other, 'pool.import', { pool: 'tank', force: true, epoch: 2 ** 53 }),
      (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InvalidArgument && e.field === 'epoch',
    );
    assert.deepEqual(await where('tank'), { imported: [p.node!], vip: [p.node!] }, 'still served by its owner alone');
    assert.equal((await rm('pool.get', { pool: 'tank' })).epoch, p.epoch, 'no epoch recorded');
  });

  test('a second operation on a pool in transition is refused', async () => {
    const first = rm('pool.move', { pool: 'tank', to: 'node-a' });
    first.catch(() => undefined); // awaited below; not an unhandled rejection if the wait fails first
    await waitFor(
      async () => {
        const p = await rm('pool.get', { pool: 'tank' });
        if (p.state !== 'in-transition') throw new Error(`the record: ${JSON.stringify(p)}`);
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 10, what: 'pool tank in transition (the move under way)' },
    );
    await assert.rejects(rm('pool.export', { pool: 'tank' }), (err: unknown) => err instanceof TandemError && err.code === ErrorCode.InTransition);
    const done = await first;
    assert.equal(done.node, 'node-a');
    await assertServedOn('tank', 'node-a');
  });

  test('a move whose target fails half way leaves the pool serving on the source', async () => {
    // node-b's host-executor crashes: the pool is released on node-a, the import on node-b fails
    await killService('node-b', 'host-executor');
    await assert.rejects(rm('pool.move', { pool: 'tank', to: 'node-b' }), (err: unknown) => {
      assert.ok(err instanceof TandemError);
      assert.match(err.message, /serves on node-a again/);
      return true;
    });
    const pool = await rm('pool.get', { pool: 'tank' });
    assert.equal(pool.state, 'serving');
    assert.equal(pool.node, 'node-a');
    assert.ok(pool.epoch >= 3, 'a fresh epoch for the new bring-up');
    assert.match((await tb.exec('node-a', ['zpool', 'list', '-H', '-o', 'name'])).stdout, /^tank$/m);
    assert.match(await smb('ls'), /after-move\.txt/);
    await tb.up({ nodes: 2 }); // repairs: starts node-b's host-executor again
    await assertServedOn('tank', 'node-a');
  });

  test('export, reattach, detach and remove', async () => {
    const exported = await rmWhenReady(() => rm('pool.export', { pool: 'tank' }));
    assert.equal(exported.state, 'inactive');
    assert.match(exported.reason ?? '', /exported/);
    assert.deepEqual(await where('tank'), { imported: [], vip: [] });
    const back = await rm('pool.reattach', { pool: 'tank', node: 'node-b' });
    assert.equal(back.node, 'node-b');
    await assertServedOn('tank', 'node-b');
    assert.match(await smb('ls'), /before\.txt/);
    await assert.rejects(rm('pool.remove', { pool: 'tank' }), (err: unknown) => err instanceof TandemError && err.code === ErrorCode.InvalidArgument);
    const det = await rm('pool.detach', { pool: 'tank' });
    assert.deepEqual(det, { pool: 'tank', node: 'node-b' });
    assert.deepEqual(await rm('pool.list', {}), []);
    await assertServedOn('tank', 'node-b');
    assert.match(await smb('ls'), /before\.txt/, 'a detached pool stays served, unmanaged');
    await assert.rejects(rm('pool.move', { pool: 'tank', to: 'node-a' }), (err: unknown) => err instanceof TandemError && err.code === ErrorCode.PoolNotManaged);
  });

  test('maintenance mode is kept in the cluster record and shown in status', async () => {
    assert.equal((await cl('maintenance.set', { on: true })).maintenance, true);
    assert.equal((await cl('cluster.status', {})).cluster?.maintenance, true);
    assert.equal((await cl('maintenance.set', { on: false })).maintenance, false);
  });

  test('taking a node offline moves its pools first; remove only when offline; the last node offline ends the cluster', async () => {
    await host.call('node-a', 'pool.create', { pool: 'tank3', vdevs: ['tank3-0'], sizeMiB: 128, mountpoint: join(dirname(status.jbod), 'mnt', 'tank3') });
    await rm('pool.attach', { pool: 'tank3', node: 'node-a', vips: ['cli0:10.77.3.63/24'] });
    await assert.rejects(cl('node.remove', { node: 'node-a' }), (err: unknown) => err instanceof TandemError && err.code === ErrorCode.InvalidArgument && /offline first/.test(err.message));
    const off = await cl('node.offline', { node: 'node-a' });
    assert.deepEqual(off.moved, [{ pool: 'tank3', to: 'node-b' }]);
    assert.equal(off.clusterDestroyed, false);
    assert.deepEqual(
      (await cl('cluster.status', {})).nodes.map((n) => [n.id, n.state]),
      [
        ['node-a', 'offline'],
        ['node-b', 'online'],
      ],
    );
    await assert.rejects(rm('pool.move', { pool: 'tank3', to: 'node-a' }), (err: unknown) => err instanceof TandemError && err.code === ErrorCode.UnknownNode);
    const removed = await cl('node.remove', { node: 'node-a' });
    assert.deepEqual(
      removed.nodes.map((n) => n.id),
      ['node-b'],
    );
    const last = await cl('node.offline', { node: 'node-b' });
    assert.equal(last.clusterDestroyed, true);
    assert.deepEqual(last.exported, ['tank3']);
    for (const n of NODES) assert.doesNotMatch((await tb.exec(n, ['zpool', 'list', '-H', '-o', 'name'])).stdout, /tank3/, `tank3 exported on ${n}`);
    assert.equal((await cl('cluster.status', {})).cluster, null);
    // the detached pool 'tank' was never under control any more: it is still served, untouched
    assert.match(await smb('ls'), /before\.txt/);
  });

  test('the activity log lists every step, the same on every node', async () => {
    const rows = async (node: string) =>
      (await tb.exec(node, ['psql', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'tandem', '-Atc', "select action, target, result, coalesce(trace_id, '') from activity_log order by at, id"])).stdout;
    let a = '';
    let b = '';
    await waitFor(
      async () => {
        a = await rows('node-a');
        b = await rows('node-b');
        return a === b && a.includes('node.offline|node-b|succeeded');
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'both nodes to hold the same log, up to node.offline node-b' },
    ).catch((err: Error) => {
      assert.equal(a, b, `both nodes hold the same log (${err.message})`);
      throw err;
    });
    assert.equal(a, b, 'both nodes hold the same log');
    for (const step of [
      'cluster.create|node-a|succeeded',
      'cluster.join|node-b|succeeded',
      'node.offline|node-a|succeeded',
      'node.remove|node-a|succeeded',
      'pool.attach|tank|succeeded',
      'pool.move|tank|succeeded',
      'pool.move|tank|failed',
      'pool.export|tank|succeeded',
      'pool.reattach|tank|succeeded',
      'pool.detach|tank|succeeded',
    ]) {
      assert.ok(a.includes(step), `${step} in\n${a}`);
    }
    assert.ok(
      a
        .split('\n')
        .filter(Boolean)
        .every((l) => /\|[0-9a-f]{32}$/.test(l)),
      'every entry carries a trace id',
    );
    void randomBytes;
  });
});
