import { dirname, join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { clusterOpSubject, poolOpSubject, type ClusterOpResults, type PoolOperation, type PoolOpRequest, type PoolOpResults } from '@tandem/contracts';
import { HostClient, requestReply, retryWhileUnavailable } from '@tandem/messaging';
import { Testbed } from '@tandem/testbed';
import { median, type BenchReport } from './stats';

/**
 * Planned moves of one pool with one floating IP and one SMB share: seconds from the move
 * command to the client reading a file through the floating IP again.
 */
const POOL = 'benchmove';
const VIP = '10.77.3.70';

function rmCall<O extends PoolOperation>(nc: NatsConnection, op: O, req: PoolOpRequest<O>): Promise<PoolOpResults[O]> {
  return retryWhileUnavailable(() => requestReply<PoolOpResults[O]>(nc, poolOpSubject(op), req, 120_000), { waitForMs: 15_000 });
}

export async function benchMove(opts: { trials: number; log: (l: string) => void }): Promise<BenchReport> {
  const tb = new Testbed({ log: () => undefined });
  opts.log('bringing up the testbed');
  const status = await tb.up({ nodes: 2 });
  const nc = await connect({ servers: status.nodes.filter((n) => n.role === 'storage').map((n) => `nats://${n.addresses.admin}:4222`) });
  const host = new HostClient(nc);
  const mnt = join(dirname(status.jbod), 'mnt', POOL);
  try {
    const cluster = await requestReply<ClusterOpResults['cluster.status']>(nc, clusterOpSubject('cluster.status'), {}, 30_000).catch(async () => {
      await rmCall(nc, 'pool.list', {}).catch(() => undefined); // waits for the resource-manager lease
      return requestReply<ClusterOpResults['cluster.status']>(nc, clusterOpSubject('cluster.status'), {}, 30_000);
    });
    if (!cluster.cluster) {
      opts.log('forming the cluster (node-a, node-b)');
      await requestReply(nc, clusterOpSubject('cluster.create'), { node: 'node-a', heartbeatInterface: 'hb0' }, 30_000);
      await requestReply(nc, clusterOpSubject('cluster.join'), { node: 'node-b' }, 30_000);
    }
    const existing = await rmCall(nc, 'pool.list', {});
    if (!existing.some((p) => p.name === POOL)) {
      opts.log(`creating pool ${POOL} with ${VIP} and an SMB share`);
      await host.call('node-a', 'pool.create', { pool: POOL, vdevs: [`${POOL}-0`], sizeMiB: 128, mountpoint: mnt });
      await host.call('node-a', 'dataset.create', { dataset: `${POOL}/files` });
      await rmCall(nc, 'pool.attach', { pool: POOL, node: 'node-a', vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files' }] });
    }
    const put = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-c', 'put /etc/hostname probe.txt']);
    if (put.exitCode !== 0) throw new Error(`cannot write through the share: ${put.stdout}${put.stderr}`);
    const samples: number[] = [];
    for (let i = 0; i < opts.trials; i++) {
      const pool = await rmCall(nc, 'pool.get', { pool: POOL });
      const to = pool.node === 'node-a' ? 'node-b' : 'node-a';
      const t0 = performance.now();
      await rmCall(nc, 'pool.move', { pool: POOL, to });
      // the client reads through the floating IP again
      for (;;) {
        const r = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-t', '2', '-c', 'get probe.txt /dev/null'], { timeoutMs: 10_000 });
        if (r.exitCode === 0) break;
        if (performance.now() - t0 > 60_000) throw new Error(`client cannot read through ${VIP} 60 s after the move: ${r.stdout}${r.stderr}`);
      }
      const s = (performance.now() - t0) / 1000;
      samples.push(s);
      opts.log(`trial ${i + 1}/${opts.trials}: moved to ${to}, client reading again after ${s.toFixed(2)} s`);
    }
    return {
      benchmark: 'move',
      unit: 's',
      trials: samples.length,
      samples: samples.map((s) => Number(s.toFixed(3))),
      median: Number(median(samples).toFixed(3)),
      max: Number(Math.max(...samples).toFixed(3)),
      target: { median: 2 },
      met: median(samples) < 2,
    };
  } finally {
    await nc.close();
  }
}
