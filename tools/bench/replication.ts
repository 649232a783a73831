import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { tandemSnapshotName } from '@tandem/contracts';
import { HostClient } from '@tandem/messaging';
import { ReplicationSync } from '@tandem/replication';
import { RUN_DIR, Testbed, observerConnection } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { rmCall } from './setup';
import { median, type BenchReport } from './stats';

/**
 * Replication throughput on the testbed: per trial, 256 MiB of new random data written on the
 * active, one snapshot, then the same incremental (`-I` from the same base to the same snapshot)
 * carried twice between the same two nodes — once by Tandem's pull (the scheduler's code path:
 * plan by GUID, SSH between the nodes' replication endpoints, `zfs receive -u` on the passive) and
 * once by `zfs send` on the active piped straight into `zfs receive` on the passive (a local pipe
 * between their namespaces, no network, no encryption), into a second pool of the passive's own:
 * the same ZFS work on both sides, only the transport differs. Reports both MB/s
 * (MiB of stream per second), their ratio (target ≥ 0.8) and the passive's lag right after the
 * transfer (from the snapshot's creation to its arrival). Both read an increment already read
 * once (warm caches on the active) and go first in turn, so neither gains from the other's reads.
 */
const POOL = 'benchrepl';
const LOCAL = 'benchlocal';
const VIP = '10.77.3.72';
const MIB = 256;

/** `zfs send …` in one node's namespace piped into `zfs receive …` in another's, from the root namespace. */
async function pipeBetween(from: string, send: string[], to: string, receive: string[]): Promise<void> {
  const inNs = (node: string, argv: string[]) => ['nsenter', `--mount=${RUN_DIR}/ns/${node}.mnt`, '--', ...argv].map((a) => `'${a}'`).join(' ');
  await execa('bash', ['-c', `set -o pipefail; ${inNs(from, send)} | ${inNs(to, receive)}`], { shell: false, timeout: 600_000 });
}

export async function benchReplication(opts: { trials: number; log: (l: string) => void }): Promise<BenchReport & { tandemMBps: number; localPipeMBps: number; ratio: number; lagAfterS: number }> {
  const tb = new Testbed({ log: () => undefined });
  opts.log('bringing up the testbed');
  const status = await tb.up({ nodes: 2 });
  const nc = await observerConnection(status);
  const host = new HostClient(nc);
  const sync = new ReplicationSync(host);
  const mountpoint = join(dirname(status.jbod), 'mnt-bench', POOL);
  try {
    const cluster = await rmCall(nc, 'cluster.status', {}, 30_000, 30_000);
    if (!cluster.cluster) {
      for (const n of ['node-a', 'node-b']) await waitFor(() => host.call(n, 'ssh.keys', {}, 2_000), { timeoutMs: 60_000, intervalMs: 500, what: `${n}'s host-executor giving its replication keys` });
      await rmCall(nc, 'cluster.create', { node: 'node-a', heartbeatInterface: 'hb0' }, 30_000, 60_000);
      await rmCall(nc, 'cluster.join', { node: 'node-b' }, 30_000, 60_000);
    }
    // the schedule stays out of the way: the bench takes its own snapshots and pulls
    await rmCall(nc, 'replication.settings', { snapshotInterval: '1d', pullInterval: '1d' });
    if (!(await rmCall(nc, 'pool.list', {})).some((p) => p.name === POOL)) {
      opts.log(`creating ${POOL} on both nodes' own disks and a second pool ${LOCAL} on node-a`);
      for (const n of ['node-a', 'node-b']) await host.call(n, 'pool.create', { pool: POOL, vdevs: [`${POOL}-0`], sizeMiB: 4096, disks: 'local', mountpoint }, 120_000);
      await host.call('node-b', 'pool.create', { pool: LOCAL, vdevs: [`${LOCAL}-0`], sizeMiB: 4096, disks: 'local', mountpoint: `${mountpoint}-local` }, 120_000);
      await host.call('node-a', 'dataset.create', { dataset: `${POOL}/data` });
      await rmCall(nc, 'pool.attach', { pool: POOL, node: 'node-a', replicated: true, vips: [`cli0:${VIP}/24`] });
    }
    const active = (await rmCall(nc, 'pool.get', { pool: POOL })).node!;
    const passive = active === 'node-a' ? 'node-b' : 'node-a';
    await waitFor(async () => (await rmCall(nc, 'replication.status', { pool: POOL }))[0]?.replication?.replicas[passive]?.state === 'in-sync', {
      timeoutMs: 300_000,
      intervalMs: 1_000,
      what: `the bootstrap of ${POOL} on ${passive}`,
    });
    const record = await rmCall(nc, 'replication.settings', {});
    const endpoint = record.sshAddresses[active];
    const tandem: number[] = [];
    const local: number[] = [];
    const lags: number[] = [];
    for (let i = 1; i <= opts.trials; i++) {
      const base = (await sync.snapshots(active, POOL))
        .get(`${POOL}/data`)
        ?.filter((s) => s.name.startsWith('tandem-2'))
        .at(-1);
      if (!base) throw new Error(`no Tandem snapshot of ${POOL}/data on ${active}`);
      // the piped copy (on the passive's second pool) starts from the same base
      await tb.exec(passive, ['sh', '-c', `zfs destroy -r ${LOCAL}/copy 2>/dev/null; true`], { timeoutMs: 120_000 });
      await pipeBetween(active, ['zfs', 'send', `${POOL}/data@${base.name}`], passive, ['zfs', 'receive', '-u', `${LOCAL}/copy`]);
      await tb.exec(active, ['dd', 'if=/dev/urandom', `of=${mountpoint}/data/blob-${Date.now()}`, 'bs=1M', `count=${MIB}`, 'conv=fsync'], { timeoutMs: 600_000 });
      await new Promise((r) => setTimeout(r, 1_100)); // snapshot names have one-second resolution
      const name = tandemSnapshotName(new Date());
      await host.call(active, 'snapshot.create', { dataset: POOL, name, recursive: true }, 120_000);
      // both transfers read the same increment under the same conditions: it is read once first
      // (into the active's caches, as a scheduled pull finds it: a snapshot taken moments ago),
      // and which of the two goes first alternates from trial to trial
      await tb.exec(active, ['sh', '-c', `zfs send -I ${POOL}/data@${base.name} ${POOL}/data@${name} > /dev/null`], { timeoutMs: 600_000 });
      const viaTandem = async () => {
        const t0 = performance.now();
        const r = await sync.pull({ pool: POOL, from: active, to: passive, address: endpoint, port: record.sshPort, stallTimeoutS: 60, keepAside: false });
        // the lag a pull started as the snapshot appears leaves: the snapshot's arrival, counted from the pull's start
        lags.push((performance.now() - t0) / 1000);
        if (r.snapshot !== name) throw new Error(`the pull ended at ${r.snapshot}, not ${name}`);
        return { r, s: (performance.now() - t0) / 1000 };
      };
      const viaPipe = async () => {
        const l0 = performance.now();
        await pipeBetween(active, ['zfs', 'send', '-I', `${POOL}/data@${base.name}`, `${POOL}/data@${name}`], passive, ['zfs', 'receive', '-u', `${LOCAL}/copy`]);
        return (performance.now() - l0) / 1000;
      };
      let tandemRun: Awaited<ReturnType<typeof viaTandem>>;
      let localS: number;
      if (i % 2 === 1) {
        tandemRun = await viaTandem();
        localS = await viaPipe();
      } else {
        localS = await viaPipe();
        tandemRun = await viaTandem();
      }
      const { r, s: tandemS } = tandemRun;
      const mib = r.bytes / 2 ** 20;
      tandem.push(mib / tandemS);
      local.push(mib / localS);
      opts.log(
        `trial ${i}/${opts.trials}: ${mib.toFixed(0)} MiB — Tandem's SSH pull ${(mib / tandemS).toFixed(1)} MiB/s (${tandemS.toFixed(2)} s), the same pipe without SSH ${(mib / localS).toFixed(1)} MiB/s (${localS.toFixed(2)} s)`,
      );
    }
    const ratio = median(tandem) / median(local);
    return {
      benchmark: 'replication',
      unit: 'MiB/s',
      trials: tandem.length,
      samples: tandem.map((x) => Number(x.toFixed(1))),
      median: Number(median(tandem).toFixed(1)),
      max: Number(Math.max(...tandem).toFixed(1)),
      tandemMBps: Number(median(tandem).toFixed(1)),
      localPipeMBps: Number(median(local).toFixed(1)),
      ratio: Number(ratio.toFixed(2)),
      lagAfterS: Number(median(lags).toFixed(2)),
      target: { ratio: 0.8 },
      met: ratio >= 0.8,
    };
  } finally {
    await nc.close();
  }
}
