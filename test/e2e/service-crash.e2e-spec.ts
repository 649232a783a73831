import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import type { NatsConnection } from 'nats';
import { ErrorCode, LEASES_BUCKET, SERVICE_NAMES, type RmOperation, type RmOpRequest } from '@tandem/contracts';
import { HostClient, ResourceManagerClient, retryWhileUnavailable } from '@tandem/messaging';
import { Testbed, type TestbedStatus, observerConnection } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { TAKEOVER_AFTER_MS } from '../support/timings';
import { killService } from '../support/services';
import { holdsFor } from '../support/wait';

/**
 * Each Tandem service of the pool's owner killed in turn (SIGKILL, as a crash): the pool stays
 * imported and its floating IP up on exactly that node, the client keeps reading, and a crashed
 * resource-manager leader is replaced by a standby without moving any pool.
 */
describe('service crashes move nothing (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const VIP = '10.77.3.90';
  let status: TestbedStatus;
  let nc: NatsConnection;

  const rm = <O extends RmOperation>(op: O, req: RmOpRequest<O>) =>
    retryWhileUnavailable(() => new ResourceManagerClient(nc).call(op, req, 30_000), { waitForMs: 20_000, codes: [ErrorCode.Unavailable, ErrorCode.Timeout] });

  /** The pool imported and its IP up on node-a, and on node-a only. */
  async function assertHeldByAOnly(): Promise<void> {
    for (const n of ['node-a', 'node-b']) {
      const imported = (await tb.exec(n, ['zpool', 'list', '-H', '-o', 'name'])).stdout.split('\n').includes('crash');
      const vip = (await tb.exec(n, ['ip', '-o', 'addr', 'show', 'dev', 'cli0'])).stdout.includes(` ${VIP}/`);
      assert.equal(imported, n === 'node-a', `pool imported on ${n}: ${imported}`);
      assert.equal(vip, n === 'node-a', `IP up on ${n}: ${vip}`);
    }
  }

  /** Held by node-a only, and the client reads through the share. */
  async function assertServedOnA(): Promise<void> {
    await assertHeldByAOnly();
    const r = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-c', 'get kept.txt /tmp/kept.txt']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal((await tb.client(['cat', '/tmp/kept.txt'])).stdout, 'kept\n');
  }

  before(async () => {
    status = await tb.up({ nodes: 2 });
    nc = await observerConnection(status);
    const host = new HostClient(nc);
    await rm('cluster.create', { node: 'node-a', heartbeatInterface: 'hb0' });
    await rm('cluster.join', { node: 'node-b' });
    await host.call('node-a', 'pool.create', { pool: 'crash', vdevs: ['crash-0'], sizeMiB: 128, mountpoint: join(dirname(status.jbod), 'mnt', 'crash') });
    await host.call('node-a', 'dataset.create', { dataset: 'crash/files', mode: '1777' });
    await rm('pool.attach', { pool: 'crash', node: 'node-a', vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files', guest: true }] });
    await tb.client(['sh', '-c', 'echo kept > /tmp/kept-src.txt']);
    const put = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-c', 'put /tmp/kept-src.txt kept.txt']);
    assert.equal(put.exitCode, 0, put.stdout + put.stderr);
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await tb.down();
  });

  test('the resource-manager leader crashes: a standby takes over, no pool moves', async () => {
    const kv = await nc.jetstream().views.kv(LEASES_BUCKET.bucket);
    const holder = (JSON.parse((await kv.get('leader.resource-manager'))!.string()) as { holder: string }).holder;
    assert.ok(['node-a', 'node-b'].includes(holder));
    await killService(holder, 'resource-manager');
    const newHolder = await waitFor(
      async () => {
        const e = await kv.get('leader.resource-manager');
        const h = e ? (JSON.parse(e.string()) as { holder: string | null }).holder : null;
        return h !== null && h !== holder ? h : null;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: `a standby to take the resource-manager lease from ${holder}` },
    );
    assert.notEqual(newHolder, holder, 'the standby took the lease');
    const pool = await rm('pool.get', { pool: 'crash' });
    assert.equal(pool.node, 'node-a');
    assert.equal(pool.epoch, 1, 'no new bring-up happened');
    await assertServedOnA();
    await tb.up({ nodes: 2 }); // restarts the crashed service
  });

  for (const app of SERVICE_NAMES) {
    test(`${app} of the owner crashes: the pool stays served where it is`, async () => {
      await killService('node-a', app);
      // longer than a lost owner takes to be taken over (TAKEOVER_AFTER_MS: heartbeat timeout +
      // downForMs, the ownership lease standing still for takeoverAfterMs), with 1.5 s to spare
      await holdsFor(TAKEOVER_AFTER_MS + 1_500, assertHeldByAOnly, `${app} of the owner crashed: the pool stays on node-a`);
      await assertServedOnA();
      await tb.up({ nodes: 2 });
      await assertServedOnA();
      const pool = await rm('pool.get', { pool: 'crash' });
      assert.deepEqual([pool.state, pool.node, pool.epoch], ['serving', 'node-a', 1]);
    });
  }
});
