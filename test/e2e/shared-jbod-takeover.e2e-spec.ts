import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { SERVICES, SERVICE_NAMES } from '@tandem/contracts';
import { HostClient } from '@tandem/messaging';
import { Testbed, type TestbedStatus, testbedNatsOptions } from '@tandem/testbed';
import { trustTestbedApis } from '../support/tandem-cli';

/**
 * The foundation end to end, on the real testbed: a pool on the shared JBOD is created on
 * node-a, a file is written and fsync'd, node-a loses power, node-b force-imports the pool
 * and reads the file back. Then node-a boots again without importing anything by itself.
 */
describe('shared JBOD: takeover after power loss (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  let status: TestbedStatus;
  let nc: NatsConnection;
  let host: HostClient;
  const content = `fsync'd before the power cut ${randomBytes(16).toString('hex')}\n`;

  const nodeByName = (name: string) => {
    const n = status.nodes.find((x) => x.name === name);
    assert.ok(n, `node ${name} in status`);
    return n;
  };

  let mnt = '';

  before(async () => {
    status = await tb.up({ nodes: 2 });
    trustTestbedApis(status);
    // under the testbed's own directory, so nothing is left on the machine after down
    mnt = join(dirname(status.jbod), 'mnt', 'e2e');
    const servers = status.nodes.filter((n) => n.role === 'storage').map((n) => `nats://${n.addresses.admin}:4222`);
    nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...testbedNatsOptions(status.root) });
    host = new HostClient(nc, 60_000);
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await tb.down();
  });

  test('status describes storage nodes, a witness and a client', () => {
    assert.deepEqual(
      status.nodes.map((n) => [n.name, n.role]),
      [
        ['node-a', 'storage'],
        ['node-b', 'storage'],
        ['witness', 'witness'],
        ['client', 'client'],
      ],
    );
    const a = nodeByName('node-a');
    assert.match(a.netns, /^tb-/);
    assert.match(a.addresses.heartbeat ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(a.api, `https://${a.addresses.admin}:8080`);
    assert.equal(nodeByName('client').addresses.heartbeat, null);
    assert.match(status.jbod, /^\//);
  });

  test('every service of every storage node is ready', async () => {
    for (const node of status.nodes.filter((n) => n.role === 'storage')) {
      for (const svc of SERVICE_NAMES) {
        // the api-gateway's port is the API: HTTPS off loopback
        const res = await fetch(`${svc === 'api-gateway' ? 'https' : 'http'}://${node.addresses.admin}:${SERVICES[svc].healthPort}/health/ready`);
        const body = (await res.json()) as { status: string; node: string; service: string };
        assert.equal(res.status, 200, `${svc} on ${node.name}: ${JSON.stringify(body)}`);
        assert.equal(body.node, node.name);
        assert.equal(body.service, svc);
      }
    }
  });

  test('the zfs daemons are isolated: a pool created on node-a is not imported on node-b', async () => {
    const created = await host.call('node-a', 'pool.create', { pool: 'e2e', vdevs: ['e2e-0'], sizeMiB: 128, mountpoint: mnt });
    assert.equal(created.changed, true);
    assert.deepEqual(
      (await host.call('node-a', 'pool.list', {})).map((p) => p.name),
      ['e2e'],
    );
    assert.deepEqual(await host.call('node-b', 'pool.list', {}), []);
    assert.deepEqual(
      (await host.call('node-b', 'pool.importable', {})).map((p) => p.name),
      ['e2e'],
      'node-b sees it on the shared JBOD',
    );
    // asked of zfs directly, not of Tandem
    assert.match((await tb.exec('node-a', ['zpool', 'list', '-H', '-o', 'name'])).stdout, /^e2e$/m);
    assert.doesNotMatch((await tb.exec('node-b', ['zpool', 'list', '-H', '-o', 'name'])).stdout, /e2e/);
  });

  test("a file written and fsync'd on node-a survives its power loss and is read on node-b", async () => {
    const w = await tb.exec('node-a', ['dd', `of=${mnt}/hello.txt`, 'conv=fsync', 'status=none'], { input: content });
    assert.equal(w.exitCode, 0, w.stderr);
    await tb.powerOff('node-a');
    const pids = await tb.exec('node-b', ['zpool', 'list', '-H', '-o', 'name']);
    assert.doesNotMatch(pids.stdout, /e2e/);

    const imp = await host.call('node-b', 'pool.import', { pool: 'e2e', force: true }, 120_000);
    assert.equal(imp.changed, true);
    assert.equal(imp.pool.name, 'e2e');
    const read = await tb.exec('node-b', ['cat', `${mnt}/hello.txt`]);
    assert.equal(read.stdout, content);
    assert.match((await tb.exec('node-b', ['zpool', 'list', '-H', '-o', 'name,health'])).stdout, /^e2e\tONLINE$/m);
  });

  test("node-b's API serves the cluster; bad input is refused with the field named", async () => {
    const api = nodeByName('node-b').api!;
    const pools = (await (await fetch(`${api}/api/v1/nodes/node-b/pools`)).json()) as Array<{ name: string }>;
    assert.deepEqual(
      pools.map((p) => p.name),
      ['e2e'],
    );
    const bad = await fetch(`${api}/api/v1/nodes/${encodeURIComponent('; rm -rf /')}/pools`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field: string }).field, 'node');
    const gone = await fetch(`${api}/api/v1/nodes/node-a/pools`);
    assert.equal(gone.status, 404, 'node-a is powered off: nobody answers for it');
  });

  test('node-a boots again and imports nothing by itself', async () => {
    await tb.powerOn('node-a');
    const res = await fetch(`${nodeByName('node-a').api}/health/ready`);
    assert.equal(res.status, 200);
    assert.equal((await tb.exec('node-a', ['zpool', 'list', '-H', '-o', 'name'])).stdout.trim(), '');
    assert.deepEqual(await host.call('node-a', 'pool.list', {}), []);
    assert.deepEqual(
      (await host.call('node-b', 'pool.list', {})).map((p) => p.name),
      ['e2e'],
      'still imported on node-b only',
    );
  });
});
