import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { NatsConnection } from 'nats';
import type { HaPool } from '@tandem/contracts';
import { HostClient, ResourceManagerClient } from '@tandem/messaging';
import { Testbed, observerConnection, type TestbedStatus } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { logsIfItFails, printNodeLogsOnFailure } from '../support/failure-logs';
import { rmCall } from '../support/cluster';

/**
 * Failover at scale on a three-node testbed: node-a serves ten pools, each with its own floating
 * IP and a file written and fsync'd on it; node-a loses power. Every pool is then served by
 * exactly one survivor, imported there and nowhere else, the pools spread over both survivors
 * (by load), every IP answers the client, and every file reads back whole.
 */
const N = 10;
const poolName = (i: number) => `many${i}`;
const vipOf = (i: number) => `10.77.3.${120 + i}`;
const SURVIVORS = ['node-b', 'node-c'];

describe('a node with ten pools loses power (three-node testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  let status: TestbedStatus;
  let nc: NatsConnection;
  let rmc: ResourceManagerClient;
  const contents = Array.from({ length: N }, (_, i) => `pool ${i}: ${randomBytes(24).toString('hex')}\n`);
  const mnt = (i: number) => join(dirname(status.jbod), 'mnt', poolName(i));

  before(() =>
    logsIfItFails(
      () => tb.root,
      ['node-a', 'node-b', 'node-c'],
      async () => {
        status = await tb.up({ nodes: 3 });
        nc = await observerConnection(status);
        rmc = new ResourceManagerClient(nc);
        const host = new HostClient(nc, 60_000);
        await rmCall(rmc, 'cluster.create', { node: 'node-a', heartbeatInterface: 'hb0' });
        await rmCall(rmc, 'cluster.join', { node: 'node-b' });
        await rmCall(rmc, 'cluster.join', { node: 'node-c' });
        for (let i = 0; i < N; i++) {
          await host.call('node-a', 'pool.create', { pool: poolName(i), vdevs: [`${poolName(i)}-0`], sizeMiB: 64, mountpoint: mnt(i) });
          await host.call('node-a', 'pool.export', { pool: poolName(i) });
          await rmCall(rmc, 'pool.attach', { pool: poolName(i), node: 'node-a', vips: [`cli0:${vipOf(i)}/24`], shares: [] });
          const w = await tb.exec('node-a', ['dd', `of=${mnt(i)}/data.txt`, 'conv=fsync', 'status=none'], { input: contents[i] });
          assert.equal(w.exitCode, 0, w.stderr);
        }
      },
    ),
  );

  printNodeLogsOnFailure(() => tb.root, SURVIVORS);

  after(async () => {
    await nc?.close().catch(() => undefined);
    await tb.down();
  });

  test('power-off: every pool on exactly one survivor, spread over both, every IP answering, every file whole', async () => {
    const before = await rmCall(rmc, 'pool.list', {});
    assert.deepEqual(
      before.filter((p) => p.name.startsWith('many')).map((p) => [p.node, p.state]),
      Array.from({ length: N }, () => ['node-a', 'serving']),
    );
    const t0 = performance.now();
    await tb.powerOff('node-a');
    const after = await waitFor(
      async () => {
        // a short call: a late answer is one more try, and the last answer seen is what a failure names
        const list = (await rmc.call('pool.list', {}, 5_000)).filter((p) => p.name.startsWith('many'));
        if (list.length === N && list.every((p) => p.state === 'serving' && SURVIVORS.includes(p.node ?? ''))) return list;
        throw new Error(`not yet: ${list.map((p) => `${p.name} ${p.state} on ${p.node ?? '-'}`).join(', ')}`);
      },
      { timeoutMs: 120_000, intervalMs: 250, what: `all ${N} pools serving on node-b or node-c` },
    );
    process.stderr.write(`many pools: all ${N} recorded serving again ${((performance.now() - t0) / 1000).toFixed(2)} s after the power-off\n`);
    const on = (node: string) => after.filter((p: HaPool) => p.node === node).length;
    assert.ok(on('node-b') >= 1 && on('node-c') >= 1, `spread over both survivors (node-b ${on('node-b')}, node-c ${on('node-c')})`);
    assert.ok(Math.abs(on('node-b') - on('node-c')) <= 2, `spread by load (node-b ${on('node-b')}, node-c ${on('node-c')})`);

    const imported = Object.fromEntries(await Promise.all(SURVIVORS.map(async (n) => [n, (await tb.exec(n, ['zpool', 'list', '-H', '-o', 'name'])).stdout.split('\n')] as const)));
    for (let i = 0; i < N; i++) {
      const p = after.find((x) => x.name === poolName(i))!;
      const where = SURVIVORS.filter((n) => imported[n].includes(poolName(i)));
      assert.deepEqual(where, [p.node], `${poolName(i)} imported on ${p.node} only`);
      const ping = await waitFor(async () => (await tb.client(['ping', '-c', '1', '-W', '1', vipOf(i)])).exitCode === 0, {
        timeoutMs: 15_000,
        intervalMs: 200,
        what: `${vipOf(i)} answering`,
      });
      assert.ok(ping);
      const read = await tb.exec(p.node!, ['cat', `${mnt(i)}/data.txt`]);
      assert.equal(read.stdout, contents[i], `${poolName(i)}'s fsync'd file on ${p.node}`);
    }
  });
});
