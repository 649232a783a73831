import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection } from 'nats';
import { ErrorCode, TandemError, clusterOpSubject, poolOpSubject, type PoolOpResults } from '@tandem/contracts';
import { HostClient, requestReply } from '@tandem/messaging';
import { Testbed, type TestbedStatus } from '@tandem/testbed';

/**
 * Automatic failover on the testbed: the owner loses power, or is cut off from both the
 * heartbeat and the admin network. The pool comes up on the other node by itself, the client
 * reads back what was fsync'd before the fault, and the pool is never imported — nor its IP up —
 * on two nodes. A cut of the heartbeat link alone moves nothing.
 */
describe('automatic failover (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const VIP = '10.77.3.95';
  const NODES = ['node-a', 'node-b'];
  let status: TestbedStatus;
  let nc: NatsConnection;
  let mnt = '';
  const off = new Set<string>();
  let doubles = 0;

  async function rm<T>(subject: string, req: unknown): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await requestReply<T>(nc, subject, req, 30_000);
      } catch (err) {
        if (i < 120 && err instanceof TandemError && (err.code === ErrorCode.Unavailable || err.code === ErrorCode.Timeout)) {
          await sleep(250);
          continue;
        }
        throw err;
      }
    }
  }

  async function where(): Promise<{ imported: string[]; vip: string[] }> {
    const imported: string[] = [];
    const vip: string[] = [];
    for (const n of NODES) {
      if (off.has(n)) continue;
      if ((await tb.exec(n, ['zpool', 'list', '-H', '-o', 'name'])).stdout.split('\n').includes('fo')) imported.push(n);
      if ((await tb.exec(n, ['ip', '-o', 'addr', 'show', 'dev', 'cli0'])).stdout.includes(` ${VIP}/`)) vip.push(n);
    }
    if (imported.length > 1 || vip.length > 1) doubles++;
    return { imported, vip };
  }

  /** Poll until the client reads `file` through the floating IP; returns seconds since `t0`. */
  async function clientReads(file: string, content: string, t0: number, limitS = 40): Promise<number> {
    for (;;) {
      await where(); // watch for double imports all along
      const r = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-t', '2', '-c', `get ${file} /tmp/fo-read.txt`], { timeoutMs: 8_000 });
      if (r.exitCode === 0 && (await tb.client(['cat', '/tmp/fo-read.txt'])).stdout === content) return (performance.now() - t0) / 1000;
      if ((performance.now() - t0) / 1000 > limitS) assert.fail(`the client could not read ${file} through ${VIP} within ${limitS} s: ${r.stdout}${r.stderr}`);
      await sleep(100);
    }
  }

  async function writeFsynced(node: string, name: string): Promise<string> {
    const content = `${name} ${randomBytes(8).toString('hex')}\n`;
    const w = await tb.exec(node, ['dd', `of=${mnt}/files/${name}`, 'conv=fsync', 'status=none'], { input: content });
    assert.equal(w.exitCode, 0, w.stderr);
    return content;
  }

  before(async () => {
    status = await tb.up({ nodes: 2 });
    mnt = join(dirname(status.jbod), 'mnt', 'fo');
    nc = await connect({ servers: status.nodes.filter((n) => n.role === 'storage').map((n) => `nats://${n.addresses.admin}:4222`), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const host = new HostClient(nc);
    await rm(clusterOpSubject('cluster.create'), { node: 'node-a', heartbeatInterface: 'hb0' });
    await rm(clusterOpSubject('cluster.join'), { node: 'node-b' });
    await host.call('node-a', 'pool.create', { pool: 'fo', vdevs: ['fo-0'], sizeMiB: 128, mountpoint: mnt });
    await host.call('node-a', 'dataset.create', { dataset: 'fo/files' });
    await rm(poolOpSubject('pool.attach'), { pool: 'fo', node: 'node-a', vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files' }] });
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await tb.down();
    assert.equal(doubles, 0, 'never imported, nor its IP up, on two nodes');
  });

  test('a cut of the heartbeat link alone moves nothing', async () => {
    await tb.cut('node-a', 'heartbeat');
    const t0 = performance.now();
    while (performance.now() - t0 < 8_000) {
      assert.deepEqual(await where(), { imported: ['node-a'], vip: ['node-a'] });
      await sleep(500);
    }
    await tb.heal('node-a', 'heartbeat');
    const p = await rm<PoolOpResults['pool.get']>(poolOpSubject('pool.get'), { pool: 'fo' });
    assert.deepEqual([p.state, p.node, p.epoch], ['serving', 'node-a', 1]);
  });

  test('power-off of the owner: the pool comes up on the other node with what was fsync\'d', async () => {
    const content = await writeFsynced('node-a', 'before-power-cut.txt');
    const t0 = performance.now();
    await tb.powerOff('node-a');
    off.add('node-a');
    const s = await clientReads('before-power-cut.txt', content, t0);
    process.stderr.write(`power-off: client reading again after ${s.toFixed(2)} s\n`);
    assert.deepEqual(await where(), { imported: ['node-b'], vip: ['node-b'] });
    let p = await rm<PoolOpResults['pool.get']>(poolOpSubject('pool.get'), { pool: 'fo' });
    for (let i = 0; i < 40 && p.state !== 'serving'; i++) {
      await sleep(250); // the record is written right after the shares are up
      p = await rm<PoolOpResults['pool.get']>(poolOpSubject('pool.get'), { pool: 'fo' });
    }
    assert.deepEqual([p.state, p.node, p.epoch], ['serving', 'node-b', 2]);
    await tb.powerOn('node-a');
    off.delete('node-a');
    assert.deepEqual(await where(), { imported: ['node-b'], vip: ['node-b'] }, 'a node that comes back imports nothing');
  });

  test('the owner cut off from heartbeat and admin networks fences itself; the other node takes over', async () => {
    const content = await writeFsynced('node-b', 'before-partition.txt');
    const t0 = performance.now();
    await tb.cut('node-b', 'heartbeat');
    await tb.cut('node-b', 'admin');
    // from its own namespace: node-b drops the pool and its IP
    let fenced = false;
    while (!fenced && performance.now() - t0 < 20_000) {
      const zp = (await tb.exec('node-b', ['zpool', 'list', '-H', '-o', 'name'])).stdout.split('\n').includes('fo');
      const ip = (await tb.exec('node-b', ['ip', '-o', 'addr', 'show', 'dev', 'cli0'])).stdout.includes(` ${VIP}/`);
      fenced = !zp && !ip;
      if (!fenced) await sleep(200);
    }
    assert.ok(fenced, 'node-b fenced itself');
    process.stderr.write(`partition: node-b fenced after ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
    const s = await clientReads('before-partition.txt', content, t0);
    process.stderr.write(`partition: client reading again after ${s.toFixed(2)} s\n`);
    await tb.heal('node-b', 'heartbeat');
    await tb.heal('node-b', 'admin');
    await sleep(2_000);
    assert.deepEqual(await where(), { imported: ['node-a'], vip: ['node-a'] });
  });
});
