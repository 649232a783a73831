import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { connect, type NatsConnection } from 'nats';
import { ErrorCode, TandemError, eventEnvelopeSchema, execSubject, hostOpResults } from '@tandem/contracts';
import { HostClient, requestReply } from '@tandem/messaging';
import { waitFor } from '@tandem/util';
import { startIsolatedNode, type IsolatedNode } from '@tandem/testbed';

/** host-executor against real zfs-fuse, real NATS and real network namespaces. */
describe('host-executor (real zfs-fuse, NATS, namespaces)', () => {
  let node: IsolatedNode;
  let nc: NatsConnection;
  let host: HostClient;
  const call = <T>(p: Promise<T>) => p;

  async function rejects(p: Promise<unknown>, code: ErrorCode, field?: string): Promise<TandemError> {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof TandemError, `expected a TandemError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      if (field) assert.equal(err.field, field, err.message);
      return err;
    }
    assert.fail(`expected ${code}`);
  }

  before(async () => {
    node = await startIsolatedNode('hexec');
    nc = await connect({ servers: node.natsUrl });
    host = new HostClient(nc, 60_000);
  });

  after(async () => {
    await nc?.close();
    await node?.stop();
  });

  test('node.info answers and sees ZFS', async () => {
    const info = await host.call(node.nodeId, 'node.info', {});
    assert.equal(info.nodeId, node.nodeId);
    assert.equal(info.zfsAvailable, true);
    assert.equal(info.deviceDir, node.deviceDir);
  });

  test('pool.create makes a pool on sparse files; a second create is a no-op', async () => {
    const r = await host.call(node.nodeId, 'pool.create', { pool: 'tank', vdevs: ['tank-0'], sizeMiB: 128 });
    assert.equal(r.changed, true);
    assert.equal(r.pool.name, 'tank');
    assert.equal(r.pool.health, 'ONLINE');
    assert.ok(r.pool.sizeBytes > 100 * 1024 * 1024, `size ${r.pool.sizeBytes}`);
    assert.ok(existsSync(`${node.deviceDir}/tank-0`));
    const again = await host.call(node.nodeId, 'pool.create', { pool: 'tank', vdevs: ['tank-0'], sizeMiB: 128 });
    assert.equal(again.changed, false);
    const list = await host.call(node.nodeId, 'pool.list', {});
    assert.deepEqual(
      list.map((p) => p.name),
      ['tank'],
    );
    const st = await host.call(node.nodeId, 'pool.status', { pool: 'tank' });
    assert.equal(st.state, 'ONLINE');
    assert.ok(
      st.vdevs.some((v) => v.name.endsWith('tank-0')),
      JSON.stringify(st.vdevs),
    );
  });

  test('datasets, snapshots with GUID and creation time, holds', async () => {
    assert.equal((await host.call(node.nodeId, 'dataset.create', { dataset: 'tank/data' })).changed, true);
    assert.equal((await host.call(node.nodeId, 'dataset.create', { dataset: 'tank/data' })).changed, false);
    const ds = await host.call(node.nodeId, 'dataset.list', { root: 'tank' });
    assert.deepEqual(ds.map((d) => d.name).sort(), ['tank', 'tank/data']);
    assert.equal(ds.find((d) => d.name === 'tank/data')?.mountpoint, '/tank/data');
    await node.exec(['sh', '-c', 'echo first > /tank/data/a.txt && sync'], { reject: true });

    const s1 = await host.call(node.nodeId, 'snapshot.create', { dataset: 'tank/data', name: 's1' });
    assert.equal(s1.changed, true);
    assert.match(s1.snapshot.guid, /^\d{5,}$/);
    assert.ok(Math.abs(Date.parse(s1.snapshot.createdAt) - Date.now()) < 120_000);
    assert.equal((await host.call(node.nodeId, 'snapshot.create', { dataset: 'tank/data', name: 's1' })).changed, false);

    const held = await host.call(node.nodeId, 'snapshot.hold', { snapshot: 'tank/data@s1', tag: 'tandem-node-b' });
    assert.deepEqual(held, { changed: true, userrefs: 1 });
    assert.equal((await host.call(node.nodeId, 'snapshot.hold', { snapshot: 'tank/data@s1', tag: 'tandem-node-b' })).changed, false);
    await rejects(host.call(node.nodeId, 'snapshot.destroy', { snapshot: 'tank/data@s1' }), ErrorCode.PoolBusy, 'snapshot');
    assert.deepEqual(await host.call(node.nodeId, 'snapshot.release', { snapshot: 'tank/data@s1', tag: 'tandem-node-b' }), { changed: true, userrefs: 0 });
    assert.equal((await host.call(node.nodeId, 'snapshot.release', { snapshot: 'tank/data@s1', tag: 'tandem-node-b' })).changed, false);
    const snaps = await host.call(node.nodeId, 'snapshot.list', { dataset: 'tank/data' });
    assert.deepEqual(
      snaps.map((s) => s.name),
      ['tank/data@s1'],
    );
    await rejects(host.call(node.nodeId, 'snapshot.hold', { snapshot: 'tank/data@nope', tag: 'x' }), ErrorCode.DatasetNotFound);
  });

  test('zfs send and receive flow as byte streams over NATS, full then incremental, GUIDs kept', async () => {
    const recv = await host.call(node.nodeId, 'stream.receive', { dataset: 'tank/copy' });
    assert.match(recv.subject, /^tandem\.node\.it-hexec\.stream\.[0-9a-f]{24}$/);
    const sent = await host.call(node.nodeId, 'stream.send', { snapshot: 'tank/data@s1', subject: recv.subject });
    assert.ok(sent.bytes > 1000, `sent ${sent.bytes} bytes`);
    const [orig] = await host.call(node.nodeId, 'snapshot.list', { dataset: 'tank/data' });
    const copy = await host.call(node.nodeId, 'snapshot.list', { dataset: 'tank/copy' });
    assert.equal(copy[0]?.guid, orig.guid, 'the received snapshot has the sender GUID');

    await node.exec(['sh', '-c', 'echo second > /tank/data/b.txt && sync'], { reject: true });
    await host.call(node.nodeId, 'snapshot.create', { dataset: 'tank/data', name: 's2' });
    const recv2 = await host.call(node.nodeId, 'stream.receive', { dataset: 'tank/copy' });
    await host.call(node.nodeId, 'stream.send', { snapshot: 'tank/data@s2', base: 'tank/data@s1', subject: recv2.subject });
    const copy2 = await host.call(node.nodeId, 'snapshot.list', { dataset: 'tank/copy' });
    assert.deepEqual(
      copy2.map((s) => s.snapshot),
      ['s1', 's2'],
    );
    // received replicas stay unmounted; mount it to read the data back
    const mounted = await node.exec(['zfs', 'get', '-H', '-o', 'value', 'mounted', 'tank/copy']);
    assert.equal(mounted.stdout.trim(), 'no');
    await node.exec(['zfs', 'mount', 'tank/copy'], { reject: true });
    assert.equal((await node.exec(['cat', '/tank/copy/b.txt'])).stdout.trim(), 'second');

    // an incremental from a base the receiver lacks fails with a typed error
    const recv3 = await host.call(node.nodeId, 'stream.receive', { dataset: 'tank/other' });
    await assert.rejects(host.call(node.nodeId, 'stream.send', { snapshot: 'tank/data@s2', base: 'tank/data@s1', subject: recv3.subject }), (err: unknown) => {
      assert.ok(err instanceof TandemError);
      return true;
    });
  });

  test('export and import are idempotent; data survives; events are published', async () => {
    const events: unknown[] = [];
    const sub = nc.subscribe('tandem.evt.pool.tank.>', { callback: (_e, m) => events.push(JSON.parse(new TextDecoder().decode(m.data))) });
    assert.equal((await host.call(node.nodeId, 'pool.export', { pool: 'tank' })).changed, true);
    assert.deepEqual(await host.call(node.nodeId, 'pool.list', {}), []);
    assert.equal((await host.call(node.nodeId, 'pool.export', { pool: 'tank' })).changed, false);
    const importable = await host.call(node.nodeId, 'pool.importable', {});
    assert.deepEqual(
      importable.map((p) => p.name),
      ['tank'],
    );
    assert.ok(importable[0].devices.some((d) => d.endsWith('tank-0')));

    const imp = await host.call(node.nodeId, 'pool.import', { pool: 'tank', epoch: 5 });
    assert.equal(imp.changed, true);
    assert.equal((await host.call(node.nodeId, 'pool.import', { pool: 'tank', epoch: 5 })).changed, false);
    assert.equal((await node.exec(['cat', '/tank/data/a.txt'])).stdout.trim(), 'first');
    await rejects(host.call(node.nodeId, 'pool.import', { pool: 'nosuchpool' }), ErrorCode.PoolNotImportable, 'pool');

    try {
      await waitFor(
        () => {
          const verbs = events.map((e) => eventEnvelopeSchema.parse(e).schema);
          if (!verbs.includes('tandem.pool.exported/1') || !verbs.includes('tandem.pool.imported/1')) throw new Error(`events so far: ${verbs.join(',') || 'none'}`);
          return true;
        },
        { timeoutMs: 5_000, intervalMs: 50, what: 'the pool exported and imported events' },
      );
    } finally {
      sub.unsubscribe();
    }
    // the pool is never in a cache file: a rebooted node imports nothing by itself
    assert.equal((await node.exec(['zpool', 'get', 'cachefile', 'tank'])).stdout.includes('none'), true);
  });

  test('a stale fencing epoch is refused, also after a host-executor restart', async () => {
    await host.call(node.nodeId, 'pool.export', { pool: 'tank' });
    await rejects(host.call(node.nodeId, 'pool.import', { pool: 'tank', epoch: 4 }), ErrorCode.StaleEpoch, 'epoch');
    assert.deepEqual(await host.call(node.nodeId, 'pool.list', {}), [], 'nothing imported by a stale request');
    await node.restartExecutor();
    await rejects(host.call(node.nodeId, 'pool.import', { pool: 'tank', epoch: 4 }), ErrorCode.StaleEpoch, 'epoch');
    await rejects(host.call(node.nodeId, 'ip.add', { interface: 'cli0', address: '10.77.5.60', prefix: 24, pool: 'tank', epoch: 2 }), ErrorCode.StaleEpoch, 'epoch');
    assert.equal((await host.call(node.nodeId, 'pool.import', { pool: 'tank', epoch: 6 })).changed, true);
  });

  test("a pool imported under an epoch is held by the node's fence at once, and let go when exported", async () => {
    const held = async () => (await host.call(node.nodeId, 'node.info', {})).ownership?.held ?? [];
    // imported at epoch 6 by the previous test, with no pool record anywhere: held all the same
    assert.deepEqual(await held(), ['tank']);
    await host.call(node.nodeId, 'pool.export', { pool: 'tank' });
    assert.deepEqual(await held(), []);
    await host.call(node.nodeId, 'pool.import', { pool: 'tank', epoch: 7 });
    assert.deepEqual(await held(), ['tank']);
    // a refused import (stale epoch) holds nothing new
    await host.call(node.nodeId, 'pool.export', { pool: 'tank' });
    await rejects(host.call(node.nodeId, 'pool.import', { pool: 'tank', epoch: 6 }), ErrorCode.StaleEpoch, 'epoch');
    assert.deepEqual(await held(), []);
    await host.call(node.nodeId, 'pool.import', { pool: 'tank', epoch: 8 });
  });

  test('floating IP: up (reachable from the client side, with gratuitous ARP), idempotent, down', async () => {
    const mac = (await node.exec(['cat', '/sys/class/net/cli0/address'])).stdout.trim();
    // the client holds a stale ARP entry for the address (as after a move)
    await node.peer(['ip', 'neigh', 'replace', '10.77.5.50', 'lladdr', '02:00:00:00:00:99', 'dev', 'eth0', 'nud', 'stale']);
    const add = await host.call(node.nodeId, 'ip.add', { interface: 'cli0', address: '10.77.5.50', prefix: 24 });
    assert.equal(add.changed, true);
    assert.ok(add.arpSent >= 3);
    await waitFor(
      async () => {
        const neigh = (await node.peer(['ip', 'neigh', 'show', '10.77.5.50'])).stdout;
        if (!neigh.includes(mac)) throw new Error(`the client's entry: ${neigh.trim() || 'none'}`);
        return true;
      },
      { timeoutMs: 5_000, intervalMs: 100, what: `gratuitous ARP to update the client's cache to ${mac}` },
    );
    assert.equal((await node.peer(['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.77.5.50'])).exitCode, 0);
    assert.equal((await host.call(node.nodeId, 'ip.add', { interface: 'cli0', address: '10.77.5.50', prefix: 24 })).changed, false);
    const addrs = await host.call(node.nodeId, 'ip.list', { interface: 'cli0' });
    assert.ok(addrs.some((a) => a.address === '10.77.5.50' && a.prefix === 24 && a.family === 4));
    await rejects(host.call(node.nodeId, 'ip.add', { interface: 'cli0', address: '10.77.5.50', prefix: 25 }), ErrorCode.AddressInUse, 'address');
    await rejects(host.call(node.nodeId, 'ip.add', { interface: 'nosuch0', address: '10.77.5.51', prefix: 24 }), ErrorCode.InterfaceNotFound, 'interface');
    const links = await host.call(node.nodeId, 'link.list', {});
    assert.equal(links.find((l) => l.name === 'cli0')?.carrier, true);

    assert.equal((await host.call(node.nodeId, 'ip.remove', { interface: 'cli0', address: '10.77.5.50', prefix: 24 })).changed, true);
    assert.equal((await host.call(node.nodeId, 'ip.remove', { interface: 'cli0', address: '10.77.5.50', prefix: 24 })).changed, false);
    assert.notEqual((await node.peer(['ping', '-c', '1', '-W', '1', '10.77.5.50'])).exitCode, 0);
  });

  test('bad input is refused with the field named, and nothing runs', async () => {
    const canary = '/tmp/tandem-it-pwned';
    await rejects(host.call(node.nodeId, 'pool.import', { pool: '; rm -rf /' }), ErrorCode.InvalidArgument, 'pool');
    await rejects(host.call(node.nodeId, 'dataset.create', { dataset: `tank/$(touch ${canary})` }), ErrorCode.InvalidArgument, 'dataset');
    await rejects(host.call(node.nodeId, 'snapshot.create', { dataset: 'tank', name: 'a;touch /tmp/x' }), ErrorCode.InvalidArgument, 'name');
    await rejects(host.call(node.nodeId, 'ip.add', { interface: 'cli0', address: '999.1.1.1', prefix: 24 }), ErrorCode.InvalidArgument, 'address');
    await rejects(host.call(node.nodeId, 'ip.add', { interface: 'cli0', address: '10.77.5.9', prefix: 33 }), ErrorCode.InvalidArgument, 'prefix');
    await rejects(host.call(node.nodeId, 'ip.add', { interface: 'eth0;reboot', address: '10.77.5.9', prefix: 24 }), ErrorCode.InvalidArgument, 'interface');
    await rejects(host.call(node.nodeId, 'pool.create', { pool: 'x', vdevs: ['../../etc/passwd'] }), ErrorCode.InvalidArgument, 'vdevs.0');
    await rejects(host.call(node.nodeId, 'pool.export', { pool: 'tank', extra: 1 } as never), ErrorCode.InvalidArgument);
    await rejects(host.call('no-such-node', 'pool.list', {}, 2_000), ErrorCode.UnknownNode, 'node');
    await rejects(host.call('Bad Node', 'pool.list', {}), ErrorCode.UnknownNode, 'node');
    // an operation no host-executor has: only an error can come back (were a result to come, it would have to parse as a pool operation's)
    await rejects(requestReply(nc, execSubject(node.nodeId, 'pool.explode'), {}, 5_000, hostOpResults['pool.export']), ErrorCode.UnknownOperation, 'operation');
    assert.equal(existsSync(canary), false);
    assert.deepEqual(
      (await host.call(node.nodeId, 'pool.list', {})).map((p) => p.name),
      ['tank'],
    );
  });

  test("a share serves only its pool's files: the node's own directories and a link out of the pool are refused, nothing starts", async () => {
    const stateDir = node.stateDir;
    await node.exec(['sh', '-c', 'mkdir -p /tank/data/inside && ln -sfn /etc /tank/data/out && ln -sfn /tank/data/inside /tank/data/in'], { reject: true });
    const share = (pool: string, path: string) => host.call(node.nodeId, 'share.start', { pool, name: 'files', protocol: 'smb', path, addresses: ['10.77.5.9'], readOnly: false });
    const outside = await rejects(share('tank', stateDir), ErrorCode.InvalidArgument, 'path');
    assert.match(outside.message, new RegExp(`share path ${stateDir} is outside pool tank, whose filesystems are mounted at /tank`));
    const linked = await rejects(share('tank', '/tank/data/out'), ErrorCode.InvalidArgument, 'path');
    assert.match(linked.message, /share path \/tank\/data\/out \(\/etc once its links are resolved\) is outside pool tank/);
    await rejects(share('tank', '/tank/data/../../etc'), ErrorCode.InvalidArgument, 'path');
    await rejects(share('tank', '/tank/data/missing'), ErrorCode.InvalidArgument, 'path');
    await rejects(share('nosuchpool', '/tank/data/inside'), ErrorCode.PoolNotFound, 'pool');
    assert.deepEqual(await host.call(node.nodeId, 'share.list', {}), [], 'no share daemon started');
  });

  test('operations on one pool never interleave', async () => {
    const results = await Promise.allSettled([
      host.call(node.nodeId, 'pool.export', { pool: 'tank' }),
      host.call(node.nodeId, 'pool.import', { pool: 'tank' }),
      host.call(node.nodeId, 'pool.export', { pool: 'tank' }),
      host.call(node.nodeId, 'pool.import', { pool: 'tank' }),
    ]);
    for (const r of results) assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
    const changed = results.map((r) => (r as PromiseFulfilledResult<{ changed: boolean }>).value.changed);
    assert.deepEqual(changed, [true, true, true, true], 'each ran after the previous finished');
    assert.deepEqual(
      (await host.call(node.nodeId, 'pool.list', {})).map((p) => p.name),
      ['tank'],
    );
    void call;
  });

  test('many pools imported at once (a takeover): each imported, one zpool import at a time; exported and imported again at once', async () => {
    const names = ['many0', 'many1', 'many2', 'many3'];
    for (const pool of names) {
      await host.call(node.nodeId, 'pool.create', { pool, vdevs: [`${pool}-0`], sizeMiB: 64 });
      await host.call(node.nodeId, 'pool.export', { pool });
    }
    const imported = await Promise.all(names.map((pool) => host.call(node.nodeId, 'pool.import', { pool, force: true })));
    assert.deepEqual(
      imported.map((r) => [r.pool.name, r.changed]),
      names.map((n) => [n, true]),
    );
    // each imported from its own disks alone: ZFS names them by the links made for the import
    const links = `${node.stateDir}/import-devices/many1`;
    assert.match((await node.exec(['zpool', 'status', 'many1'], { reject: true })).stdout, new RegExp(`${links}/many1-0\\s+ONLINE`));
    assert.equal(realpathSync(`${links}/many1-0`), `${node.deviceDir}/many1-0`);
    // an export forgets the scan the imports shared and the links: the pool is found again at once
    await host.call(node.nodeId, 'pool.export', { pool: 'many2' });
    assert.equal(existsSync(`${node.stateDir}/import-devices/many2`), false, 'links gone with the export');
    assert.equal((await host.call(node.nodeId, 'pool.import', { pool: 'many2' })).changed, true);
    const listed = (await host.call(node.nodeId, 'pool.list', {})).map((p) => p.name);
    for (const n of names) assert.ok(listed.includes(n), `${n} imported (${listed.join(', ')})`);
    // zfs-fuse may still be busy with a pool it just mounted: its destroy is asked until it goes
    for (const pool of names)
      await waitFor(() => host.call(node.nodeId, 'pool.destroy', { pool, force: true }).then(() => true), { timeoutMs: 30_000, intervalMs: 500, what: `pool ${pool} destroyed` });
  });

  test('an import told where the disks are reads only those; told wrong (a disk short, a path outside the disk directories), it scans every disk', async () => {
    // two exported pools named `hint` on the disks: the real one (two disks) and a decoy (renamed
    // on an import of its own): a scan finds both and refuses to guess; the disks told decide
    await host.call(node.nodeId, 'pool.create', { pool: 'hint', vdevs: ['hint-0', 'hint-1'], sizeMiB: 64 });
    await node.exec(['sh', '-c', 'echo real > /hint/marker'], { reject: true });
    await host.call(node.nodeId, 'pool.export', { pool: 'hint' });
    await host.call(node.nodeId, 'pool.create', { pool: 'decoy', vdevs: ['decoy-0'], sizeMiB: 64 });
    await host.call(node.nodeId, 'pool.export', { pool: 'decoy' });
    await node.exec(['zpool', 'import', '-d', node.deviceDir, 'decoy', 'hint'], { reject: true });
    await node.exec(['zpool', 'export', 'hint'], { reject: true });
    try {
      const disks = [`${node.deviceDir}/hint-0`, `${node.deviceDir}/hint-1`];
      const told = await host.call(node.nodeId, 'pool.import', { pool: 'hint', devices: disks });
      assert.deepEqual([told.changed, told.devices, told.mountpoint], [true, disks, '/hint']);
      assert.equal((await node.exec(['cat', '/hint/marker'])).stdout.trim(), 'real');
      // imported already (an attach of a served pool): where its disks are, read from the pool itself
      const again = await host.call(node.nodeId, 'pool.import', { pool: 'hint' });
      assert.deepEqual([again.changed, again.devices, again.mountpoint], [false, disks, '/hint']);
      await host.call(node.nodeId, 'pool.export', { pool: 'hint' });
      for (const wrong of [[disks[0]], ['/etc/passwd', disks[1]], [`${node.deviceDir}/gone-0`, disks[1]]]) {
        const err = await rejects(host.call(node.nodeId, 'pool.import', { pool: 'hint', devices: wrong }), ErrorCode.PoolNotImportable, 'pool');
        assert.match(err.message, /hint/);
        assert.deepEqual(await host.call(node.nodeId, 'pool.list', {}).then((l) => l.filter((p) => p.name === 'hint')), [], `nothing imported when told ${wrong.join(', ')}`);
      }
      // bad paths are refused before anything runs
      await rejects(host.call(node.nodeId, 'pool.import', { pool: 'hint', devices: ['relative/disk'] }), ErrorCode.InvalidArgument, 'devices.0');
    } finally {
      await node.exec(['rm', '-f', `${node.deviceDir}/decoy-0`]);
      await host.call(node.nodeId, 'pool.import', { pool: 'hint' }).catch(() => undefined);
      await waitFor(() => host.call(node.nodeId, 'pool.destroy', { pool: 'hint', force: true }).then(() => true), { timeoutMs: 30_000, intervalMs: 500, what: 'pool hint destroyed' }).catch(
        () => undefined,
      );
    }
  });

  test("pools told their disks and imported at once go in one `zpool import -a`; a list naming another pool's disk sends them one by one, and that pool stays exported", async () => {
    const names = ['batch0', 'batch1', 'batch2', 'batch3'];
    const disk = (p: string) => `${node.deviceDir}/${p}-0`;
    for (const pool of [...names, 'other']) {
      await host.call(node.nodeId, 'pool.create', { pool, vdevs: [`${pool}-0`], sizeMiB: 64 });
      await host.call(node.nodeId, 'pool.export', { pool });
    }
    // ZFS records a command importing several pools in one of their histories
    const importsOfAll = async () => {
      const lines = await Promise.all(names.map(async (p) => (await node.exec(['zpool', 'history', p], { reject: true })).stdout.split('\n')));
      return [...new Set(lines.flat().filter((l) => / zpool import .* -a$/.test(l)))];
    };
    const dirOf = (p: string) => `-d ${node.stateDir}/import-devices/${p} `;
    try {
      // the first goes at once, alone; the others wait for it and go together
      const first = await Promise.all(names.map((pool) => host.call(node.nodeId, 'pool.import', { pool, force: true, devices: [disk(pool)] })));
      assert.deepEqual(
        first.map((r) => [r.pool.name, r.changed, r.devices, r.mountpoint]),
        names.map((n) => [n, true, [disk(n)], `/${n}`]),
      );
      const all = await importsOfAll();
      assert.equal(all.length, 1, `one command imported several pools:\n${all.join('\n')}`);
      assert.ok(names.filter((p) => all[0].includes(dirOf(p))).length >= 2, `at least two of the pools in it, each read from its own links: ${all[0]}`);
      const mounted = (await node.exec(['zfs', 'get', '-H', '-o', 'name,value', 'mounted', ...names], { reject: true })).stdout;
      for (const n of names) assert.match(mounted, new RegExp(`^${n}\\s+yes$`, 'm'), `${n} mounted`);
      for (const pool of names) await host.call(node.nodeId, 'pool.export', { pool });

      // batch1's list names the other pool's disk too: a command importing every pool it finds
      // would import that one as well, so each goes by its name and `other` stays where it was
      const again = await Promise.all(names.map((pool) => host.call(node.nodeId, 'pool.import', { pool, force: true, devices: pool === 'batch1' ? [disk(pool), disk('other')] : [disk(pool)] })));
      assert.deepEqual(
        again.map((r) => r.changed),
        names.map(() => true),
      );
      const listed = (await host.call(node.nodeId, 'pool.list', {})).map((p) => p.name);
      assert.equal(listed.includes('other'), false, `the other pool was not imported (${listed.join(', ')})`);
      for (const n of names) assert.ok(listed.includes(n), `${n} imported`);
      const since = (await importsOfAll()).filter((l) => !all.includes(l));
      assert.deepEqual(
        since.filter((l) => l.includes(dirOf('batch1')) || l.includes(dirOf('other'))),
        [],
        'batch1 imported by its name',
      );
    } finally {
      await host.call(node.nodeId, 'pool.import', { pool: 'other' }).catch(() => undefined);
      for (const pool of [...names, 'other'])
        await waitFor(() => host.call(node.nodeId, 'pool.destroy', { pool, force: true }).then(() => true), { timeoutMs: 30_000, intervalMs: 500, what: `pool ${pool} destroyed` }).catch(
          () => undefined,
        );
    }
  });

  describe('a replicated pool on the local disks, and its roles', () => {
    const mnt = () => `${node.stateDir}/mnt/rtank`;
    /** name → value of one property, for every filesystem of rtank (snapshots left out). */
    const prop = async (property: string): Promise<Record<string, string>> => {
      const r = await node.exec(['zfs', 'get', '-H', '-r', '-o', 'name,value,source', property, 'rtank'], { reject: true });
      const out: Record<string, string> = {};
      for (const line of r.stdout.split('\n').filter((l) => l && !l.split('\t')[0].includes('@'))) {
        const [name, value, source] = line.split('\t');
        out[name] = property === 'readonly' ? `${value} ${source.split(' ')[0]}` : value;
      }
      return out;
    };
    const writes = async (file: string) => (await node.exec(['sh', '-c', `echo written > ${mnt()}/${file} && sync`])).exitCode === 0;
    const served = ['rtank', 'rtank/data'];
    const kept = ['rtank/tandem-kept', 'rtank/tandem-kept/k1'];
    const role = async (r: 'serve' | 'replica' | 'retrieval') => (await host.call(node.nodeId, 'pool.import', { pool: 'rtank', role: r })).changed;

    test('pool.create with disks local makes its vdevs in the local device directory; a shared pool of the same name is refused', async () => {
      const r = await host.call(node.nodeId, 'pool.create', { pool: 'rtank', vdevs: ['rtank-0'], sizeMiB: 128, disks: 'local', mountpoint: mnt() });
      assert.equal(r.changed, true);
      assert.ok(existsSync(`${node.localDeviceDir}/rtank-0`), 'the vdev is on the local disks');
      assert.ok(!existsSync(`${node.deviceDir}/rtank-0`), 'and not on the shared ones');
      await host.call(node.nodeId, 'dataset.create', { dataset: 'rtank/data' });
      // kept-aside copies: never mounted, whatever the role
      await node.exec(['zfs', 'create', '-o', 'mountpoint=none', 'rtank/tandem-kept'], { reject: true });
      await node.exec(['zfs', 'create', 'rtank/tandem-kept/k1'], { reject: true });
      assert.equal(await writes('data/first.txt'), true);

      assert.equal((await host.call(node.nodeId, 'pool.export', { pool: 'rtank' })).changed, true);
      const importable = await host.call(node.nodeId, 'pool.importable', {});
      const rtank = importable.filter((p) => p.name === 'rtank');
      assert.equal(rtank.length, 1, JSON.stringify(importable));
      assert.deepEqual(rtank[0].devices, [`${node.localDeviceDir}/rtank-0`]);
      // exported, it is still on this node's disks: another create of that name is refused, shared or local
      await rejects(host.call(node.nodeId, 'pool.create', { pool: 'rtank', vdevs: ['rtank-s0'], sizeMiB: 128 }), ErrorCode.AlreadyExists, 'pool');
      assert.ok(!existsSync(`${node.deviceDir}/rtank-s0`));

      // a pool of the same name on the shared disks (made behind host-executor's back): importing
      // by that name is refused, naming both
      await node.exec(['truncate', '-s', '128M', `${node.deviceDir}/dup-0`], { reject: true });
      await node.exec(['zpool', 'create', '-o', 'cachefile=none', '-m', 'none', 'rtank', `${node.deviceDir}/dup-0`], { reject: true });
      await node.exec(['zpool', 'export', 'rtank'], { reject: true });
      const both = (await host.call(node.nodeId, 'pool.importable', {})).filter((p) => p.name === 'rtank');
      assert.equal(both.length, 2, JSON.stringify(both));
      const dupId = both.find((p) => p.devices.some((d) => d.startsWith(`${node.deviceDir}/`)))?.id ?? '';
      assert.match(dupId, /^\d+$/);
      const err = await rejects(host.call(node.nodeId, 'pool.import', { pool: 'rtank' }), ErrorCode.PoolNotImportable, 'pool');
      assert.match(err.message, /2 pools of that name/);
      assert.match(err.message, /shared disks/);
      assert.match(err.message, /local disks/);
      assert.ok(!(await host.call(node.nodeId, 'pool.list', {})).some((p) => p.name === 'rtank'), 'neither was imported');
      await node.exec(['zpool', 'import', '-d', node.deviceDir, '-o', 'cachefile=none', dupId], { reject: true });
      await node.exec(['zpool', 'destroy', 'rtank'], { reject: true });
      await node.exec(['rm', '-f', `${node.deviceDir}/dup-0`], { reject: true });
    });

    test('import as replica: nothing mounted, read-only, canmount=noauto on every filesystem; idempotent', async () => {
      assert.equal(await role('replica'), true);
      assert.deepEqual(await prop('mounted'), { rtank: 'no', 'rtank/data': 'no', 'rtank/tandem-kept': 'no', 'rtank/tandem-kept/k1': 'no' });
      assert.deepEqual(await prop('canmount'), { rtank: 'noauto', 'rtank/data': 'noauto', 'rtank/tandem-kept': 'noauto', 'rtank/tandem-kept/k1': 'noauto' });
      assert.deepEqual(await prop('readonly'), { rtank: 'on local', 'rtank/data': 'on inherited', 'rtank/tandem-kept': 'on inherited', 'rtank/tandem-kept/k1': 'on inherited' });
      assert.equal((await node.exec(['sh', '-c', `grep -c ' ${mnt()}' /proc/self/mounts`])).stdout.trim(), '0', 'no mount of it in the namespace');
      assert.equal(await role('replica'), false);
      // dataset.list still tells where each would mount
      const ds = await host.call(node.nodeId, 'dataset.list', { root: 'rtank' });
      assert.equal(ds.find((d) => d.name === 'rtank/data')?.mountpoint, `${mnt()}/data`);
    });

    test('brought to serve: mounted (parents first) and writable, kept-aside copies left alone; idempotent', async () => {
      assert.equal(await role('serve'), true);
      const mounted = await prop('mounted');
      for (const d of served) assert.equal(mounted[d], 'yes', d);
      for (const d of kept) assert.equal(mounted[d], 'no', d);
      const canmount = await prop('canmount');
      for (const d of served) assert.equal(canmount[d], 'on', d);
      for (const d of kept) assert.equal(canmount[d], 'noauto', d);
      assert.equal((await prop('readonly')).rtank, 'off default');
      assert.equal(await writes('data/served.txt'), true);
      assert.equal(await writes('root.txt'), true);
      assert.equal((await node.exec(['cat', `${mnt()}/data/first.txt`])).stdout.trim(), 'written');
      assert.equal(await role('serve'), false);
      assert.equal((await host.call(node.nodeId, 'pool.import', { pool: 'rtank' })).changed, false, 'serve is the default role');
    });

    test('brought to retrieval: mounted read-only (a write fails, reads work); idempotent', async () => {
      assert.equal(await role('retrieval'), true);
      const mounted = await prop('mounted');
      for (const d of served) assert.equal(mounted[d], 'yes', d);
      assert.equal(await writes('data/retrieval.txt'), false, 'a write through the mountpoint fails');
      assert.equal(await writes('retrieval.txt'), false);
      assert.equal((await node.exec(['cat', `${mnt()}/data/served.txt`])).stdout.trim(), 'written');
      assert.equal(await role('retrieval'), false);
    });

    test('exported and imported as replica again: nothing mounted; for serve it mounts; imported for retrieval then served, writable', async () => {
      await host.call(node.nodeId, 'pool.export', { pool: 'rtank' });
      assert.equal(await role('replica'), true);
      assert.deepEqual(Object.values(await prop('mounted')), ['no', 'no', 'no', 'no']);
      assert.equal((await prop('readonly')).rtank, 'on local');
      assert.deepEqual(Object.values(await prop('canmount')), ['noauto', 'noauto', 'noauto', 'noauto']);
      assert.equal(await role('replica'), false);

      // a pool that carries a replica's properties, imported to serve, is mounted and writable
      await host.call(node.nodeId, 'pool.export', { pool: 'rtank' });
      assert.equal(await role('serve'), true);
      const mounted = await prop('mounted');
      for (const d of served) assert.equal(mounted[d], 'yes', d);
      assert.equal(await writes('data/served-again.txt'), true);

      // imported for retrieval (its import mounts read-only), then served: mounted again, writable
      await host.call(node.nodeId, 'pool.export', { pool: 'rtank' });
      assert.equal(await role('retrieval'), true);
      assert.equal((await prop('mounted'))['rtank/data'], 'yes');
      assert.equal(await writes('data/retrieval.txt'), false);
      assert.equal(await role('serve'), true);
      assert.equal(await writes('data/after-retrieval.txt'), true);
      assert.equal((await prop('readonly'))['rtank/data'], 'off default');
      assert.equal((await host.call(node.nodeId, 'pool.export', { pool: 'rtank' })).changed, true);
    });
  });
});
