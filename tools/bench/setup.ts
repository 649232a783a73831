import { dirname, join } from 'node:path';
import type { NatsConnection } from 'nats';
import { ErrorCode, type RmOperation, type RmOpRequest, type RmOpResults } from '@tandem/contracts';
import { HostClient, ResourceManagerClient, retryWhileUnavailable } from '@tandem/messaging';
import { Testbed, observerConnection, type TestbedStatus } from '@tandem/testbed';

export function rmCall<O extends RmOperation>(nc: NatsConnection, op: O, req: RmOpRequest<O>, timeoutMs = 120_000, waitForMs = 30_000, codes = [ErrorCode.Unavailable]): Promise<RmOpResults[O]> {
  return retryWhileUnavailable(() => new ResourceManagerClient(nc).call(op, req, timeoutMs), { waitForMs, codes });
}

/** The cluster of node-a and node-b, formed unless it is (its resource-manager waited for while it takes its lease). */
export async function formCluster(nc: NatsConnection, log: (l: string) => void): Promise<void> {
  if ((await rmCall(nc, 'cluster.status', {}, 30_000, 30_000)).cluster) return;
  log('forming the cluster (node-a, node-b)');
  const rm = new ResourceManagerClient(nc);
  await rm.call('cluster.create', { node: 'node-a', heartbeatInterface: 'hb0' }, 30_000);
  await rm.call('cluster.join', { node: 'node-b' }, 30_000);
}

/** The testbed up with two storage nodes, formed into a cluster if it is not one yet. */
export async function formedCluster(log: (l: string) => void): Promise<{ tb: Testbed; nc: NatsConnection; status: TestbedStatus }> {
  const tb = new Testbed({ log: () => undefined });
  log('bringing up the testbed');
  const status = await tb.up({ nodes: 2 });
  const nc = await observerConnection(status);
  try {
    await formCluster(nc, log);
    return { tb, nc, status };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/**
 * The testbed with a two-node cluster and one HA pool (one floating IP, one SMB share `files`
 * holding probe.txt), made if missing. The NATS connection notices a lost server within seconds.
 */
export async function benchCluster(pool: string, vip: string, log: (l: string) => void): Promise<{ tb: Testbed; nc: NatsConnection }> {
  const { tb, nc, status } = await formedCluster(log);
  try {
    const host = new HostClient(nc);
    if (!(await rmCall(nc, 'pool.list', {})).some((p) => p.name === pool)) {
      log(`creating pool ${pool} with ${vip} and an SMB share`);
      await host.call('node-a', 'pool.create', { pool, vdevs: [`${pool}-0`], sizeMiB: 128, mountpoint: join(dirname(status.jbod), 'mnt', pool) });
      await host.call('node-a', 'dataset.create', { dataset: `${pool}/files`, mode: '1777' });
      await rmCall(nc, 'pool.attach', { pool, node: 'node-a', vips: [`cli0:${vip}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files', guest: true }] });
    }
    // the probe file, written once (a bench run after another finds it there)
    const there = await tb.client(['smbclient', '-N', `//${vip}/files`, '-c', 'get probe.txt /dev/null']);
    const put = there.exitCode === 0 ? there : await tb.client(['smbclient', '-N', `//${vip}/files`, '-c', 'put /etc/hostname probe.txt']);
    if (put.exitCode !== 0) throw new Error(`cannot write through the share: ${put.stdout}${put.stderr}`);
    return { tb, nc };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
