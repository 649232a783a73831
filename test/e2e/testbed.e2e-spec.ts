/**
 * End-to-end check of the testbed itself: real namespaces, bridges, zfs-fuse, NATS and Postgres.
 * Needs root and the Debian packages listed by `npm run testbed -- up`. Takes ~35 s (the private
 * disks test starts the services and power-cycles a node).
 *
 *   npm run build && node -r ./tools/register.js --test dist/test/e2e/testbed.e2e-spec.js
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { parseMountInfo } from '@tandem/host';
import { HostClient } from '@tandem/messaging';
import { Testbed, TestbedError, TestbedStatus, isAlive, observerConnection } from '@tandem/testbed';

const OUR_NETNS = /^tb-(node-[a-z]|witness|client)$/;
const OUR_LINK = /^tb-(hb|adm|cli|[a-z]-(hb|adm|cli)|wit-(hb|adm)|cln-cli)$/;
const POOL = 'tbe2e';
const LOCAL_POOL = 'tblocal';

function skipReason(): string | null {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (namespaces, bridges, mounts)';
  return null;
}

async function ourLinks(): Promise<string[]> {
  const res = await execa('ip', ['-o', 'link', 'show'], { timeout: 10_000 });
  return res.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
    .filter((n) => OUR_LINK.test(n));
}

function ourNetns(): string[] {
  try {
    return fs.readdirSync('/run/netns').filter((n) => OUR_NETNS.test(n));
  } catch {
    return [];
  }
}

function ourMounts(tb: Testbed): string[] {
  return parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((m) => m.startsWith('/run/tandem-testbed') || m.startsWith(tb.root) || OUR_NETNS.test(path.basename(m)));
}

async function ourProcesses(tb: Testbed): Promise<string[]> {
  const res = await execa('ps', ['-eo', 'pid=,args='], { timeout: 10_000 });
  return res.stdout.split('\n').filter((l) => l.includes(`${tb.root}/`) || l.includes('/run/tandem-testbed/'));
}

const alive = isAlive;

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TestbedError, `expected a TestbedError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

const skip = skipReason();

describe('testbed', { skip: skip ?? false, timeout: 300_000 }, () => {
  const lines: string[] = [];
  const tb = new Testbed({ log: (l) => lines.push(l) });
  let status: TestbedStatus;
  let jbod: string;

  before(async () => {
    if (ourNetns().length > 0 || fs.existsSync(tb.paths.stateFile)) {
      process.stderr.write('[e2e] a testbed is already running: taking it down first\n');
      await tb.down();
    }
  });

  after(async () => {
    // leave nothing behind even when a test failed half-way
    if (ourNetns().length > 0 || fs.existsSync(tb.root)) await tb.down().catch(() => undefined);
  });

  it('up (no services) brings up 2 storage nodes, a witness and a client', async () => {
    const t0 = Date.now();
    status = await tb.up({ nodes: 2, services: false });
    const secs = (Date.now() - t0) / 1000;
    process.stderr.write(`[e2e] testbed up (services: false) in ${secs.toFixed(1)} s\n`);
    assert.ok(secs < 120, `up took ${secs} s`);

    assert.equal(status.jbod, path.join(tb.root, 'jbod'));
    assert.ok(fs.statSync(status.jbod).isDirectory());
    assert.deepEqual(
      status.nodes.map((n) => [n.name, n.role, n.netns, n.state]),
      [
        ['node-a', 'storage', 'tb-node-a', 'running'],
        ['node-b', 'storage', 'tb-node-b', 'running'],
        ['witness', 'witness', 'tb-witness', 'running'],
        ['client', 'client', 'tb-client', 'running'],
      ],
    );
    const [a, b, w, c] = status.nodes;
    assert.deepEqual(a!.addresses, { heartbeat: '10.77.1.11', admin: '10.77.2.11', client: '10.77.3.11' });
    assert.deepEqual(b!.addresses, { heartbeat: '10.77.1.12', admin: '10.77.2.12', client: '10.77.3.12' });
    assert.deepEqual(w!.addresses, { heartbeat: '10.77.1.5', admin: '10.77.2.5', client: null });
    assert.deepEqual(c!.addresses, { heartbeat: null, admin: null, client: '10.77.3.100' });
    assert.equal(a!.api, 'https://10.77.2.11:8080');
    assert.equal(b!.api, 'https://10.77.2.12:8080');
    assert.equal(w!.api, null);
    assert.equal(c!.api, null);
    // the JSON form has the documented keys
    const json = JSON.parse(JSON.stringify(status)) as Record<string, unknown>;
    assert.ok(Array.isArray(json['nodes']) && typeof json['jbod'] === 'string');
    for (const n of json['nodes'] as Array<Record<string, unknown>>) {
      for (const k of ['name', 'role', 'netns', 'addresses', 'api']) assert.ok(k in n, `node field ${k}`);
    }
    jbod = status.jbod;

    // interfaces are named the same in every namespace
    const ifs = await tb.exec('node-b', ['ip', '-br', 'addr']);
    assert.equal(ifs.exitCode, 0, ifs.stderr);
    assert.match(ifs.stdout, /^hb0@\S+\s+UP\s+10\.77\.1\.12\/24/m);
    assert.match(ifs.stdout, /^adm0@\S+\s+UP\s+10\.77\.2\.12\/24/m);
    assert.match(ifs.stdout, /^cli0@\S+\s+UP\s+10\.77\.3\.12\/24/m);

    // every storage node has its own Postgres on 127.0.0.1:5432 with the tandem database
    for (const node of ['node-a', 'node-b']) {
      const pg = await tb.exec(node, ['runuser', '-u', 'postgres', '--', 'psql', '-h', '127.0.0.1', '-Atc', 'select current_database()', 'tandem']);
      assert.equal(pg.exitCode, 0, pg.stderr);
      assert.equal(pg.stdout.trim(), 'tandem');
    }
    // NATS is clustered with JetStream: every server agrees on a meta leader, reachable from the root ns
    for (const n of [a!, b!, w!]) {
      const res = await fetch(`http://${n.addresses.admin}:8222/jsz`, { signal: AbortSignal.timeout(3_000) });
      const jsz = (await res.json()) as { meta_cluster?: { leader?: string; cluster_size?: number } };
      assert.ok(jsz.meta_cluster?.leader, `${n.name} sees a meta leader`);
      assert.equal(jsz.meta_cluster?.cluster_size, 3);
    }
  });

  it('a second up changes nothing', async () => {
    const zfsPid = Number(fs.readFileSync(tb.paths.zfsPid('node-a'), 'utf8'));
    const t0 = Date.now();
    await tb.up({ services: false });
    assert.ok(Date.now() - t0 < 10_000);
    assert.ok(alive(zfsPid));
    assert.equal(Number(fs.readFileSync(tb.paths.zfsPid('node-a'), 'utf8')), zfsPid, 'zfs-fuse was not restarted');
  });

  it("zfs-fuse daemons are isolated: a pool of node-a is not in node-b's cache", async () => {
    const vdev = path.join(jbod, `${POOL}-0.img`);
    fs.writeFileSync(vdev, '');
    fs.truncateSync(vdev, 128 * 1024 * 1024); // sparse
    const create = await tb.exec('node-a', ['zpool', 'create', '-m', 'none', POOL, vdev]);
    assert.equal(create.exitCode, 0, create.stderr);

    const onA = await tb.exec('node-a', ['zpool', 'list', '-H', '-o', 'name']);
    assert.equal(onA.exitCode, 0, onA.stderr);
    assert.match(onA.stdout, new RegExp(`^${POOL}$`, 'm'));

    const onB = await tb.exec('node-b', ['zpool', 'list', '-H', '-o', 'name']);
    assert.equal(onB.exitCode, 0, onB.stderr);
    assert.doesNotMatch(onB.stdout, new RegExp(POOL));

    const scan = await tb.exec('node-b', ['zpool', 'import', '-d', jbod]);
    assert.equal(scan.exitCode, 0, scan.stderr);
    assert.match(scan.stdout, new RegExp(`pool: ${POOL}`));

    // each node has its own hostid, so taking over a pool that is still imported needs -f
    const steal = await tb.exec('node-b', ['zpool', 'import', '-d', jbod, POOL]);
    assert.notEqual(steal.exitCode, 0);
    assert.match(steal.stderr, /in use from other system/);
  });

  it('heartbeat link: reachable, unreachable after cut, reachable after heal', async () => {
    const arping = () => tb.exec('node-a', ['arping', '-c', '1', '-w', '2', '-I', 'hb0', '10.77.1.12'], { timeoutMs: 10_000 });
    assert.equal((await arping()).exitCode, 0, 'node-a reaches node-b on the heartbeat network');

    await tb.cut('node-b', 'heartbeat');
    assert.notEqual((await arping()).exitCode, 0, 'cut link must not answer');
    const st = await tb.status();
    assert.equal(st.nodes.find((n) => n.name === 'node-b')!.links.heartbeat, 'cut');
    // the admin network is unaffected
    const adm = await tb.exec('node-a', ['arping', '-c', '1', '-w', '2', '-I', 'adm0', '10.77.2.12'], { timeoutMs: 10_000 });
    assert.equal(adm.exitCode, 0);

    await tb.heal('node-b', 'heartbeat');
    assert.equal((await arping()).exitCode, 0, 'healed link answers again');
  });

  it('the client namespace reaches storage nodes on the client network only', async () => {
    const ok = await tb.client(['arping', '-c', '1', '-w', '2', '-I', 'cli0', '10.77.3.11'], { timeoutMs: 10_000 });
    assert.equal(ok.exitCode, 0);
    const routes = await tb.client(['ip', 'route', 'get', '10.77.2.11']);
    assert.notEqual(routes.exitCode, 0, 'client has no route to the admin network');
  });

  it('unknown nodes and networks are rejected', async () => {
    await rejectsWithCode(tb.powerOff('node-x'), 'UNKNOWN_NODE');
    await rejectsWithCode(tb.exec('bogus', ['true']), 'UNKNOWN_NODE');
    await rejectsWithCode(tb.cut('node-a', 'storage' as never), 'UNKNOWN_NETWORK');
    await rejectsWithCode(tb.cut('client', 'heartbeat'), 'NOT_ON_NETWORK');
  });

  it('power-off kills the node and drops its namespaces; power-on boots it fresh', async () => {
    const zfsPid = Number(fs.readFileSync(tb.paths.zfsPid('node-a'), 'utf8'));
    assert.ok(alive(zfsPid));

    await tb.powerOff('node-a');
    assert.ok(!fs.existsSync('/run/netns/tb-node-a'), 'netns gone');
    assert.ok(!alive(zfsPid), 'zfs-fuse is dead');
    assert.equal((await tb.status()).nodes.find((n) => n.name === 'node-a')!.state, 'off');
    await rejectsWithCode(tb.exec('node-a', ['true']), 'NODE_OFF');
    // the rest of the cluster is untouched
    const onB = await tb.exec('node-b', ['zpool', 'list']);
    assert.equal(onB.exitCode, 0, onB.stderr);

    await tb.powerOn('node-a');
    const newPid = Number(fs.readFileSync(tb.paths.zfsPid('node-a'), 'utf8'));
    assert.notEqual(newPid, zfsPid);
    const list = await tb.exec('node-a', ['zpool', 'list', '-H', '-o', 'name']);
    assert.equal(list.exitCode, 0, list.stderr);
    assert.doesNotMatch(list.stdout, new RegExp(POOL), 'pool cache is gone after a reboot');
    // ... but the disk is still there
    const scan = await tb.exec('node-a', ['zpool', 'import', '-d', jbod]);
    assert.match(scan.stdout, new RegExp(`pool: ${POOL}`));
    // and Postgres kept its data directory
    const pg = await tb.exec('node-a', ['runuser', '-u', 'postgres', '--', 'psql', '-h', '127.0.0.1', '-Atc', 'select 1', 'tandem']);
    assert.equal(pg.exitCode, 0, pg.stderr);
  });

  it("private disks: a pool on node-a's local disks is not importable on node-b, which makes its own of that name", async () => {
    // through the host-executors: the same testbed, now with its services
    status = await tb.up({ services: true });
    const nc = await observerConnection(status);
    const host = new HostClient(nc, 60_000);
    const disks = (node: string) => tb.paths.localDeviceDir(node);
    const mnt = (node: string) => path.join(tb.paths.nodeDir(node), 'mnt', LOCAL_POOL);
    try {
      for (const node of ['node-a', 'node-b']) assert.ok(fs.statSync(disks(node)).isDirectory(), `${disks(node)} made at up`);
      const a = await host.call('node-a', 'pool.create', { pool: LOCAL_POOL, vdevs: [`${LOCAL_POOL}-0`], sizeMiB: 128, disks: 'local', mountpoint: mnt('node-a') });
      assert.equal(a.changed, true);
      assert.ok(fs.existsSync(path.join(disks('node-a'), `${LOCAL_POOL}-0`)), "the vdev is on node-a's own disks");
      assert.ok(!fs.existsSync(path.join(jbod, `${LOCAL_POOL}-0`)), 'not on the JBOD');
      // node-b does not see node-a's disks at all (its namespace covers them), the JBOD it does
      const seen = await tb.exec('node-b', ['ls', '-A', disks('node-a')]);
      assert.equal(seen.stdout.trim(), '', `node-b lists node-a's disks: ${seen.stdout}${seen.stderr}`);
      assert.match((await tb.exec('node-b', ['ls', '-A', jbod])).stdout, new RegExp(`${POOL}-0\\.img`));
      assert.match((await tb.exec('node-a', ['ls', '-A', disks('node-a')])).stdout, new RegExp(`${LOCAL_POOL}-0`));

      // exported on node-a (a pool on the JBOD would now be importable everywhere): not on node-b
      assert.equal((await host.call('node-a', 'pool.export', { pool: LOCAL_POOL })).changed, true);
      assert.ok((await host.call('node-a', 'pool.importable', {})).some((p) => p.name === LOCAL_POOL));
      assert.ok(!(await host.call('node-b', 'pool.importable', {})).some((p) => p.name === LOCAL_POOL));
      await assert.rejects(host.call('node-b', 'pool.import', { pool: LOCAL_POOL }), (err: unknown) => err instanceof TandemError && err.code === ErrorCode.PoolNotImportable);

      // node-b makes its own copy of the same name, on its own disks
      const b = await host.call('node-b', 'pool.create', { pool: LOCAL_POOL, vdevs: [`${LOCAL_POOL}-0`], sizeMiB: 128, disks: 'local', mountpoint: mnt('node-b') });
      assert.equal(b.changed, true);
      assert.notEqual(b.pool.guid, a.pool.guid);
      assert.ok(fs.existsSync(path.join(disks('node-b'), `${LOCAL_POOL}-0`)));
      // ... while node-a imports its own again, as a replica: both imported, one name, two pools
      const again = await host.call('node-a', 'pool.import', { pool: LOCAL_POOL, role: 'replica' });
      assert.equal(again.pool.guid, a.pool.guid);
      const mounted = await tb.exec('node-a', ['zfs', 'get', '-H', '-o', 'value', 'mounted', LOCAL_POOL]);
      assert.equal(mounted.stdout.trim(), 'no', 'a replica is not mounted');

      // the private disks are kept across a power cycle, like the node's state
      await tb.powerOff('node-b');
      await tb.powerOn('node-b');
      const back = await host.call('node-b', 'pool.importable', {});
      assert.deepEqual(
        back.filter((p) => p.name === LOCAL_POOL).map((p) => p.id),
        [b.pool.guid],
      );
    } finally {
      await nc.close();
    }
  });

  it('down leaves nothing behind', async () => {
    await tb.down();
    assert.deepEqual(ourNetns(), []);
    assert.deepEqual(await ourLinks(), []);
    assert.deepEqual(ourMounts(tb), []);
    assert.deepEqual(await ourProcesses(tb), []);
    assert.ok(!fs.existsSync(tb.root), `${tb.root} removed`);
    assert.ok(!fs.existsSync('/run/tandem-testbed'), '/run/tandem-testbed removed');
    // a second down is harmless
    await tb.down();
  });
});
