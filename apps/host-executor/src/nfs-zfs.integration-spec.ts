import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { HostClient } from '@tandem/messaging';
import { waitFor } from '@tandem/util';
import { nfsCpArgv, nfsUrl, startIsolatedNode, verifierFits, verifierOverflows, type IsolatedNode } from '@tandem/testbed';

/**
 * NFS on a ZFS dataset of the pool itself: host-executor's NFS-Ganesha (FSAL VFS) serving a
 * dataset of a zfs-fuse pool, written and read by libnfs' user-space client from the peer
 * namespace.
 *
 * Why the client's nfs-cp runs in a time namespace, and files stay under 3 KB: see
 * libs/testbed nfs-client.ts.
 */
const POOL = 'nzfs';
const DATASET = `${POOL}/export`;
const DIR = `/${DATASET}`;
const VIP = '10.77.5.9';
const URL = (file: string) => nfsUrl(VIP, 'files', file);

const FITS = verifierFits;
const OVERFLOWS = verifierOverflows;

describe('NFS on a ZFS dataset (real zfs-fuse, NFS-Ganesha, libnfs client)', { concurrency: 1 }, () => {
  let node: IsolatedNode;
  let nc: NatsConnection;
  let host: HostClient;
  const local = mkdtempSync(join(tmpdir(), 'tandem-nfszfs-'));
  const written = new Map<string, string>();

  const nfsCp = (file: string, content: string, offsetS: number) => {
    const src = join(local, file);
    writeFileSync(src, content);
    return node.peer(nfsCpArgv(src, URL(file), offsetS));
  };
  const nfsCat = (file: string) => node.peer(['nfs-cat', URL(file)]);
  const startShare = () => host.call(node.nodeId, 'share.start', { pool: POOL, name: 'files', protocol: 'nfs', path: DIR, addresses: [VIP], rootSquash: false });

  before(async () => {
    node = await startIsolatedNode('nfszfs');
    nc = await connect({ servers: node.natsUrl });
    host = new HostClient(nc, 60_000);
    await host.call(node.nodeId, 'pool.create', { pool: POOL, vdevs: [`${POOL}-0`], sizeMiB: 128 });
    await node.exec(['zfs', 'create', DATASET], { reject: true });
    await host.call(node.nodeId, 'ip.add', { interface: 'cli0', address: VIP, prefix: 24 });
    const st = await startShare();
    assert.equal(st.share.protocol, 'nfs');
  });

  after(async () => {
    await nc?.close();
    await node?.stop();
    rmSync(local, { recursive: true, force: true });
  });

  test('zfs-fuse stores a time of 2^31 - 1 s and refuses 2^31 (EOVERFLOW): the limit an exclusive create meets', async () => {
    const ok = await node.exec(['touch', '-d', '@2147483647', `${DIR}/t-max`]);
    assert.equal(ok.exitCode, 0, ok.stderr);
    const over = await node.exec(['touch', '-d', '@2147483648', `${DIR}/t-over`]);
    assert.notEqual(over.exitCode, 0);
    assert.match(over.stderr, /Value too large/);
    await node.exec(['rm', '-f', `${DIR}/t-max`, `${DIR}/t-over`], { reject: true });
  });

  test('a client writes files onto the dataset through Ganesha and reads every byte back', async () => {
    // the first create waits out the NFSv4 grace period of a fresh server
    const first = randomBytes(1400).toString('hex');
    let last = '';
    await waitFor(
      async () => {
        const r = await nfsCp('f0.txt', first, FITS());
        last = r.stderr;
        return r.exitCode === 0;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: 'first NFS create after grace' },
    ).catch((err: Error) => assert.fail(`${err.message}: ${last}`));
    written.set('f0.txt', first);
    for (let i = 1; i < 6; i++) {
      const content = randomBytes(200 + i * 240).toString('hex');
      const r = await nfsCp(`f${i}.txt`, content, FITS());
      assert.equal(r.exitCode, 0, r.stderr);
      written.set(`f${i}.txt`, content);
    }
    for (const [file, content] of written) {
      const cat = await nfsCat(file);
      assert.equal(cat.exitCode, 0, cat.stderr);
      assert.equal(cat.stdout, content, `${file} read back over NFS`);
      const onDisk = await node.exec(['cat', `${DIR}/${file}`], { reject: true });
      assert.equal(onDisk.stdout, content, `${file} on the dataset`);
    }
    const ls = await node.peer(['nfs-ls', `nfs://${VIP}/files/?version=4`]);
    for (const file of written.keys()) assert.match(ls.stdout, new RegExp(`\\s${file.replace('.', '\\.')}$`, 'm'));
  });

  test('an exclusive create whose verifier overflows 32-bit time is refused (NFS4ERR_INVAL) and leaves no file', async () => {
    const r = await nfsCp('over.txt', 'x\n', OVERFLOWS());
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /NFS4ERR_INVAL/);
    const gone = await node.exec(['test', '-e', `${DIR}/over.txt`]);
    assert.notEqual(gone.exitCode, 0, 'no half-made file on the dataset');
  });

  test('the pool exported and imported again (a move within one node): every byte is still served', async () => {
    await host.call(node.nodeId, 'share.stop', { pool: POOL });
    await host.call(node.nodeId, 'pool.export', { pool: POOL });
    assert.deepEqual(await host.call(node.nodeId, 'share.list', {}), []);
    await host.call(node.nodeId, 'pool.import', { pool: POOL });
    await startShare();
    for (const [file, content] of written) {
      let cat = await nfsCat(file);
      await waitFor(async () => (cat = await nfsCat(file)).exitCode === 0, { timeoutMs: 90_000, intervalMs: 500, what: `${file} readable after the import` });
      assert.equal(cat.stdout, content, `${file} after export and import`);
    }
  });
});
