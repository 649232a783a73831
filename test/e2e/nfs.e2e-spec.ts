import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { ErrorCode, type RmOperation, type RmOpRequest } from '@tandem/contracts';
import { HostClient, ResourceManagerClient, retryWhileUnavailable, waitForStreamLeader } from '@tandem/messaging';
import { Testbed, nfsCpArgv, nfsUrl } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { OtlpCollector } from '../support/otlp-collector';
import { servedOn, setUpTwoNodeCluster } from '../support/cluster';
import { printNodeLogsOnFailure } from '../support/failure-logs';

/**
 * NFS on a ZFS dataset of the pool follows the pool. The pool's NFS share serves the dataset
 * `nfsp/export` on the floating IP; from the client namespace libnfs' utilities (nfs-cp, nfs-cat)
 * write files through it; each is then fsync'd on the serving node (nfs-cp cannot fsync: it
 * closes the file, and its writes are on the node's ZFS, maybe not yet on disk). The pool moves,
 * then its owner is powered off: each time the client reads every byte of every file back
 * through the same URL, and writes one more. Files stay under 3 KB and nfs-cp runs in a time
 * namespace (libs/testbed nfs-client.ts says why).
 */
describe('NFS on a ZFS dataset through a move and a power-off failover (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const POOL = 'nfsp';
  const DATASET = `${POOL}/export`;
  const VIP = '10.77.3.96';
  const NODES = ['node-a', 'node-b'] as const;
  printNodeLogsOnFailure(() => tb.root, [...NODES]);
  const traces = new OtlpCollector();
  const local = mkdtempSync(join(tmpdir(), 'tandem-nfs-e2e-'));
  let nc: NatsConnection;
  let host: HostClient;
  let rmc: ResourceManagerClient;
  /** Where the dataset is mounted on whichever node imports the pool (the same on each). */
  let mountpoint = '';
  const written = new Map<string, string>();

  const rm = <O extends RmOperation>(op: O, req: RmOpRequest<O>, waitForMs = 60_000) =>
    retryWhileUnavailable(() => rmc.call(op, req, 60_000), { waitForMs, codes: [ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.NotLeader] });

  /** The client writes `file` through the share (after a start, once the server's NFSv4 grace period lets it), then the serving node fsyncs it. */
  async function write(file: string, on: (typeof NODES)[number]): Promise<void> {
    const content = `${file} ${randomBytes(600).toString('hex')}\n`;
    const src = join(local, file);
    writeFileSync(src, content);
    let last = '';
    const t0 = performance.now();
    await waitFor(
      async () => {
        const r = await tb.client(nfsCpArgv(src, nfsUrl(VIP, 'files', file)), { timeoutMs: 30_000 });
        last = `${r.stdout}${r.stderr}`;
        return r.exitCode === 0;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: `nfs-cp of ${file}` },
    ).catch((err: Error) => assert.fail(`${err.message}: ${last}`));
    process.stderr.write(`nfs-cp of ${file} through ${VIP} succeeded after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const sync = await tb.exec(on, ['dd', 'if=/dev/null', `of=${mountpoint}/${file}`, 'oflag=append', 'conv=notrunc,fsync', 'status=none']);
    assert.equal(sync.exitCode, 0, `fsync of ${file} on ${on}: ${sync.stderr}`);
    written.set(file, content);
  }

  /** Every file written so far reads back through the share, every byte (waiting out a new server's grace period). */
  async function readAllBack(): Promise<void> {
    for (const [file, content] of written) {
      let got = '';
      const t0 = performance.now();
      await waitFor(
        async () => {
          const r = await tb.client(['nfs-cat', nfsUrl(VIP, 'files', file)], { timeoutMs: 30_000 });
          got = r.exitCode === 0 ? r.stdout : `(exit ${r.exitCode}) ${r.stderr}`;
          return r.exitCode === 0;
        },
        { timeoutMs: 120_000, intervalMs: 500, what: `nfs-cat of ${file}` },
      ).catch((err: Error) => assert.fail(`${err.message}: ${got}`));
      process.stderr.write(`nfs-cat of ${file} succeeded after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      assert.equal(got, content, `${file} read back through the share, every byte`);
    }
  }

  /** Which nodes run an NFS server for the pool. */
  async function nfsOn(): Promise<string[]> {
    const out: string[] = [];
    for (const n of NODES) {
      const list = await host.call(n, 'share.list', {}, 5_000).catch(() => []);
      if (list.some((s) => s.pool === POOL && s.protocol === 'nfs' && s.running)) out.push(n);
    }
    return out;
  }

  before(() =>
    setUpTwoNodeCluster(tb, traces, POOL, async (up) => {
      nc = up.nc;
      host = new HostClient(nc);
      rmc = new ResourceManagerClient(nc);
      // the dataset the share serves, made where the pool was created (node-a imports it)
      const made = await tb.exec('node-a', ['zfs', 'create', DATASET]);
      assert.equal(made.exitCode, 0, made.stderr);
      mountpoint = (await tb.exec('node-a', ['zfs', 'get', '-H', '-o', 'value', 'mountpoint', DATASET])).stdout.trim();
      assert.match(mountpoint, /\/nfsp\/export$/);
      await rm('pool.attach', { pool: POOL, node: 'node-a', vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'nfs', path: 'export', rootSquash: false }] });
    }),
  );

  after(async () => {
    await nc?.close().catch(() => undefined);
    await traces.stop();
    rmSync(local, { recursive: true, force: true });
    if (process.env.TANDEM_E2E_KEEP !== '1') await tb.down();
  });

  test('the client writes files onto the dataset through the floating IP and reads them back', async () => {
    assert.deepEqual(await nfsOn(), ['node-a']);
    for (let i = 0; i < 3; i++) await write(`a${i}.txt`, 'node-a');
    await readAllBack();
    // the bytes are in the dataset, not beside it
    const onDisk = await tb.exec('node-a', ['cat', `${mountpoint}/a0.txt`]);
    assert.equal(onDisk.stdout, written.get('a0.txt'));
    // the server records its client in the pool (so the node that takes the pool over lets it reclaim)
    const root = (await tb.exec('node-a', ['zfs', 'get', '-H', '-o', 'value', 'mountpoint', POOL])).stdout.trim();
    const records = await tb.exec('node-a', ['find', `${root}/.tandem/nfs-recovery`, '-mindepth', '1']);
    assert.equal(records.exitCode, 0, records.stderr);
    assert.notEqual(records.stdout.trim(), '', `a client record in ${root}/.tandem/nfs-recovery`);
  });

  test('the pool moves: the same URL serves every byte from the other node, which takes new files', async () => {
    const p = await rm('pool.move', { pool: POOL, to: 'node-b' });
    assert.deepEqual([p.state, p.node], ['serving', 'node-b']);
    assert.deepEqual(await nfsOn(), ['node-b'], 'the NFS server runs on the new owner only');
    await readAllBack();
    await write('b0.txt', 'node-b');
  });

  test('its owner is powered off: the peer takes the pool over and serves every fsync’d byte', async () => {
    await waitForStreamLeader(nc, 'witness', 60_000);
    await tb.powerOff('node-b');
    try {
      await servedOn(rmc, POOL, 'node-a');
      await readAllBack();
      await write('c0.txt', 'node-a');
      await readAllBack();
    } finally {
      await tb.powerOn('node-b');
    }
  });
});
