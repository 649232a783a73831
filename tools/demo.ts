import { dirname, join } from 'node:path';
import { connect } from 'nats';
import { HostClient } from '@tandem/messaging';
import { Testbed } from '@tandem/testbed';

/**
 * The local demo: the testbed cluster plus a demo pool on the shared JBOD, imported on node-a,
 * with a floating IP on the client network and an SMB share the client namespace can reach.
 */
const POOL = 'demo';
const VIP = '10.77.3.50';

async function main(): Promise<void> {
  const say = (l: string) => process.stderr.write(`[demo] ${l}\n`);
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const status = await tb.up({ nodes: 2 });
  const servers = status.nodes.filter((n) => n.role === 'storage').map((n) => `nats://${n.addresses.admin}:4222`);
  const nc = await connect({ servers });
  const host = new HostClient(nc, 60_000);
  try {
    const mountpoint = join(dirname(status.jbod), 'mnt', POOL);
    const holder = (await Promise.all(['node-a', 'node-b'].map(async (n) => ((await host.call(n, 'pool.list', {})).some((p) => p.name === POOL) ? n : null)))).find(Boolean);
    const node = holder ?? 'node-a';
    if (!holder) {
      const importable = await host.call(node, 'pool.importable', {});
      if (importable.some((p) => p.name === POOL)) {
        say(`importing pool ${POOL} on ${node}`);
        await host.call(node, 'pool.import', { pool: POOL });
      } else {
        say(`creating pool ${POOL} on the shared JBOD (${status.jbod}) on ${node}`);
        await host.call(node, 'pool.create', { pool: POOL, vdevs: [`${POOL}-0`, `${POOL}-1`], sizeMiB: 256, mountpoint });
      }
    }
    await host.call(node, 'dataset.create', { dataset: `${POOL}/files` });
    say(`floating IP ${VIP}/24 on ${node} cli0`);
    await host.call(node, 'ip.add', { interface: 'cli0', address: VIP, prefix: 24 });
    say(`SMB share //${VIP}/files`);
    await host.call(node, 'share.start', { pool: POOL, name: 'files', protocol: 'smb', path: `${mountpoint}/files`, addresses: [VIP] });
    const pools = await host.call(node, 'pool.list', {});
    say(`ready: pool ${POOL} (${pools.find((p) => p.name === POOL)?.health}) on ${node}`);
    process.stdout.write(
      [
        '',
        'Tandem demo cluster is up.',
        `  status:            npm run testbed -- status`,
        `  API of node-a:     ${status.nodes.find((n) => n.name === 'node-a')?.api}/health/ready`,
        `  the demo share:    npm run testbed -- client -- smbclient -N //${VIP}/files -c ls`,
        `  the pool on ${node}: npm run testbed -- exec ${node} -- zpool status ${POOL}`,
        `  tear it all down:  npm run testbed -- down`,
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
