import { dirname, join } from 'node:path';
import { connect } from 'nats';
import { type RmOperation, type RmOpRequest, type RmOpResults } from '@tandem/contracts';
import { HostClient, ResourceManagerClient, retryWhileUnavailable } from '@tandem/messaging';
import { TESTBED_ADMIN_PASSWORD, Testbed, testbedNatsOptions } from '@tandem/testbed';

/**
 * The local demo: the testbed cluster (2 storage nodes, a witness, a client), the cluster formed
 * over hb0, and a demo pool on the shared JBOD under cluster control on node-a with a floating IP
 * on the client network and an SMB share the client namespace can reach.
 */
const POOL = 'demo';
const VIP = '10.77.3.50';

/** Right after start-up the resource-manager lease is taken within a few seconds. */
function call<O extends RmOperation>(rm: ResourceManagerClient, op: O, req: RmOpRequest<O>): Promise<RmOpResults[O]> {
  return retryWhileUnavailable(() => rm.call(op, req, 120_000), { waitForMs: 20_000 });
}

async function main(): Promise<void> {
  const say = (l: string) => process.stderr.write(`[demo] ${l}\n`);
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const status = await tb.up({ nodes: 2 });
  const servers = status.nodes.filter((n) => n.role === 'storage').map((n) => `nats://${n.addresses.admin}:4222`);
  const nc = await connect({ servers, ...testbedNatsOptions(status.root) });
  const host = new HostClient(nc, 60_000);
  const rm = new ResourceManagerClient(nc);
  try {
    const cluster = await call(rm, 'cluster.status', {});
    if (!cluster.cluster) {
      say('forming the cluster on node-a over hb0, node-b joins');
      await call(rm, 'cluster.create', { node: 'node-a', heartbeatInterface: 'hb0', actor: 'demo' });
      await call(rm, 'cluster.join', { node: 'node-b', actor: 'demo' });
    }
    const pools = await call(rm, 'pool.list', {});
    if (!pools.some((p) => p.name === POOL)) {
      const mountpoint = join(dirname(status.jbod), 'mnt', POOL);
      const importable = await host.call('node-a', 'pool.importable', {});
      const imported = (await host.call('node-a', 'pool.list', {})).some((p) => p.name === POOL);
      if (!imported && !importable.some((p) => p.name === POOL)) {
        say(`creating pool ${POOL} on the shared JBOD (${status.jbod})`);
        await host.call('node-a', 'pool.create', { pool: POOL, vdevs: [`${POOL}-0`, `${POOL}-1`], sizeMiB: 256, mountpoint });
        await host.call('node-a', 'dataset.create', { dataset: `${POOL}/files`, mode: '1777' });
        await host.call('node-a', 'pool.export', { pool: POOL });
      }
      say(`attaching ${POOL} to node-a with floating IP ${VIP}/24 and SMB share "files"`);
      await call(rm, 'pool.attach', { pool: POOL, node: 'node-a', vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files', guest: true }], actor: 'demo' });
    }
    const pool = (await call(rm, 'pool.list', {})).find((p) => p.name === POOL);
    say(`ready: pool ${POOL} ${pool?.state} on ${pool?.node}`);
    const a = status.nodes.find((n) => n.name === 'node-a')!;
    process.stdout.write(
      [
        '',
        'Tandem demo cluster is up.',
        `  export TANDEM_API=${a.api} TANDEM_API_CA_FILE=${status.ca} TANDEM_PASSWORD=${TESTBED_ADMIN_PASSWORD}`,
        `  npm run tandem -- cluster status`,
        `  npm run tandem -- pool move ${POOL} --to node-b`,
        `  npm run tandem -- log`,
        `  the share from the client:  npm run testbed -- client -- smbclient -N //${VIP}/files -c ls`,
        `  the API's documentation:    ${a.api}/api/docs (its certificate is signed by the testbed's CA, ${status.ca})`,
        `  tear it all down:           npm run testbed -- down`,
        '',
      ].join('\n'),
    );
  } finally {
    await nc.close();
  }
}

main().catch((err) => {
  process.stderr.write(`[demo] failed: ${(err as Error).message}\n`);
  process.exit(1);
});
