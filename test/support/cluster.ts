import { dirname, join } from 'node:path';
import type { NatsConnection } from 'nats';
import { ErrorCode, type RmOperation, type RmOpRequest } from '@tandem/contracts';
import { HostClient, ResourceManagerClient, retryWhileUnavailable } from '@tandem/messaging';
import { ROOT_ADMIN_IP, observerConnection, type Testbed, type TestbedStatus } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { logsIfItFails } from './failure-logs';
import type { OtlpCollector } from './otlp-collector';

/**
 * A resource-manager operation, asked again while the control plane is electing (no active
 * resource-manager yet, a stream leader moving): for up to `waitForMs`.
 */
export function rmCall<O extends RmOperation>(rmc: ResourceManagerClient, op: O, req: RmOpRequest<O>, waitForMs = 30_000) {
  return retryWhileUnavailable(() => rmc.call(op, req, 30_000), { waitForMs, codes: [ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.NotLeader] });
}

/**
 * A two-node cluster on the testbed, its services exporting their traces to `traces` over the
 * admin network (as to Jaeger): node-a forms it (heartbeat on hb0), node-b joins, and node-a
 * makes `pool` on the shared disks (128 MiB, mounted under the JBOD's mnt/).
 */
async function twoNodeClusterWithPool(tb: Testbed, traces: OtlpCollector, pool: string): Promise<{ status: TestbedStatus; nc: NatsConnection }> {
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://${ROOT_ADMIN_IP}:${await traces.start()}`;
  const status = await tb.up({ nodes: 2 });
  const nc = await observerConnection(status);
  const rmc = new ResourceManagerClient(nc);
  await rmCall(rmc, 'cluster.create', { node: 'node-a', heartbeatInterface: 'hb0' });
  await rmCall(rmc, 'cluster.join', { node: 'node-b' });
  await new HostClient(nc).call('node-a', 'pool.create', { pool, vdevs: [`${pool}-0`], sizeMiB: 128, mountpoint: join(dirname(status.jbod), 'mnt', pool) });
  return { status, nc };
}

/**
 * A suite's set-up (its `before`): the two-node cluster with `pool` (twoNodeClusterWithPool),
 * then the suite's own steps; if any of it fails, the nodes' service logs are printed.
 */
export function setUpTwoNodeCluster(tb: Testbed, traces: OtlpCollector, pool: string, then: (up: { status: TestbedStatus; nc: NatsConnection }) => Promise<void>): Promise<void> {
  return logsIfItFails(
    () => tb.root,
    ['node-a', 'node-b'],
    async () => then(await twoNodeClusterWithPool(tb, traces, pool)),
  );
}

/** Waits until the pool's record says it serves on `node` (after a failover or a move), asking the resource-manager every 250 ms. */
export async function servedOn(rmc: ResourceManagerClient, pool: string, node: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    async () => {
      const p = await rmc.call('pool.get', { pool }, 2_000);
      if (p.state !== 'serving' || p.node !== node) throw new Error(JSON.stringify(p));
      return true;
    },
    { timeoutMs, intervalMs: 250, what: `pool ${pool} serving on ${node}` },
  );
}
