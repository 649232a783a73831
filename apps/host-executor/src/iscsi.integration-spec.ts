import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { lunIdentity, poolIqn, type LioSaveConfig } from '@tandem/domain';
import { HostClient } from '@tandem/messaging';
import { waitFor } from '@tandem/util';
import { startIsolatedNode, type IsolatedNode } from '@tandem/testbed';

/**
 * The block target of a pool on one node: tgt in the node's own namespaces on real zfs-fuse,
 * reached from the peer namespace by libiscsi's initiator (iscsi-ls, iscsi-inq) and qemu-io.
 * FC: the LIO configuration this node writes for it, as active and as standby.
 */
describe('iSCSI target and LUNs of a pool (tgt, zfs-fuse, namespaces)', () => {
  const POOL = 'blk';
  const VIP = '10.77.5.50';
  const WWPN = '21:00:00:24:ff:4a:bc:01';
  let node: IsolatedNode;
  let nc: NatsConnection;
  let host: HostClient;
  const url = (lun: number) => `iscsi://${VIP}/${poolIqn('it', POOL)}/${lun}`;
  const lun = (name: string, number: number) => ({ name, number, sizeBytes: 8 << 20 });

  async function rejects(p: Promise<unknown>, code: ErrorCode, pattern: RegExp): Promise<void> {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof TandemError, `expected a TandemError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      assert.match(err.message, pattern);
      return;
    }
    assert.fail(`expected ${code}`);
  }

  async function qemuIo(cmd: string, lunNo = 1): Promise<string> {
    const r = await node.peer(['qemu-io', '-f', 'raw', '-c', cmd, '-c', 'flush', url(lunNo)]);
    assert.equal(r.exitCode, 0, `qemu-io ${cmd}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout + r.stderr, /fail|error/i);
    return r.stdout;
  }

  const luns = async () => [...(await node.peer(['iscsi-ls', '-s', `iscsi://${VIP}`])).stdout.matchAll(/^Lun:(\d+)\s+Type:DIRECT_ACCESS/gm)].map((m) => Number(m[1]));

  before(async () => {
    // this node's FC target ports (there is no FC hardware here)
    process.env.TANDEM_FC_WWPNS = WWPN;
    node = await startIsolatedNode('iscsi');
    nc = await connect({ servers: node.natsUrl });
    host = new HostClient(nc, 60_000);
    await host.call(node.nodeId, 'pool.create', { pool: POOL, vdevs: [`${POOL}-0`], sizeMiB: 128 });
  });

  after(async () => {
    await nc?.close();
    await node?.stop();
  });

  test('a LUN is a sparse file in the pool where ZFS has no zvols; made again the same, kept; another size, refused', async () => {
    const r = await host.call(node.nodeId, 'lun.create', { pool: POOL, name: 'vm1', sizeBytes: 8 << 20 });
    assert.equal(r.changed, true);
    assert.equal(r.backing, 'file');
    assert.match(r.path, /\/\.tandem\/luns\/vm1$/);
    const size = (await node.exec(['stat', '-c', '%s', r.path])).stdout.trim();
    assert.equal(size, String(8 << 20));
    assert.equal((await host.call(node.nodeId, 'lun.create', { pool: POOL, name: 'vm1', sizeBytes: 8 << 20 })).changed, false);
    await rejects(host.call(node.nodeId, 'lun.create', { pool: POOL, name: 'vm1', sizeBytes: 16 << 20 }), ErrorCode.AlreadyExists, /exists with 8388608 bytes, not 16777216/);
    await rejects(host.call(node.nodeId, 'lun.create', { pool: POOL, name: '../x', sizeBytes: 8 << 20 }), ErrorCode.InvalidArgument, /name/);
    await rejects(host.call(node.nodeId, 'lun.create', { pool: POOL, name: 'odd', sizeBytes: 1000 }), ErrorCode.InvalidArgument, /sizeBytes/);
  });

  test('the target starts only on an address the node has; a LUN without a backing is named', async () => {
    await rejects(host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [VIP], luns: [lun('vm1', 1)] }), ErrorCode.ShareFailed, /10\.77\.5\.50 is not configured on this node/);
    await host.call(node.nodeId, 'ip.add', { interface: 'cli0', address: VIP, prefix: 24, arp: false });
    await rejects(host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [VIP], luns: [lun('nope', 1)] }), ErrorCode.NotFound, /LUN nope of pool blk has no backing/);
    const listed = await host.call(node.nodeId, 'iscsi.list', {});
    assert.ok(!listed.some((t) => t.running), 'nothing left running after the refusals');
  });

  test('served on the floating IP: the initiator sees the IQN, the serial and identifier derived for it, writes and reads blocks', async () => {
    const r = await host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [VIP], luns: [lun('vm1', 1)] });
    assert.equal(r.changed, true);
    assert.equal(r.target.iqn, 'iqn.2026-01.io.tandem:it:blk');
    assert.equal(r.target.running, true);
    const id = lunIdentity('it', POOL, { name: 'vm1', number: 1 });
    assert.deepEqual(
      r.target.luns.map((l) => [l.number, l.serial, l.deviceId]),
      [[1, id.serial, id.deviceId]],
    );
    const ls = await node.peer(['iscsi-ls', '-s', `iscsi://${VIP}`]);
    assert.match(ls.stdout, new RegExp(`Target:${r.target.iqn.replace(/\./g, '\\.')} Portal:${VIP.replace(/\./g, '\\.')}:3260`));
    assert.deepEqual(await luns(), [1]);
    const sn = await node.peer(['iscsi-inq', '-e', '1', '-c', '128', url(1)]);
    assert.match(sn.stdout, new RegExp(`Unit Serial Number:\\[\\s*${id.serial}\\]`));
    const vpd83 = await node.peer(['iscsi-inq', '-e', '1', '-c', '131', url(1)]);
    assert.match(vpd83.stdout, new RegExp(`T10_VENDORT_ID\\nDesignator:\\[${id.scsiId}\\]`));
    await qemuIo('write -P 0x5a 0 64k');
    await qemuIo('write -P 0xa5 4M 64k');
    assert.match(await qemuIo('read -P 0x5a 0 64k'), /read 65536\/65536/);
    assert.match(await qemuIo('read -P 0xa5 4M 64k'), /read 65536\/65536/);
    // the same target again: nothing changes
    const again = await host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [VIP], luns: [lun('vm1', 1)] });
    assert.deepEqual([again.changed, again.target.pid], [false, r.target.pid]);
  });

  test('a LUN added and removed on the running target: the same tgtd, the other LUN keeps its data', async () => {
    const before = (await host.call(node.nodeId, 'iscsi.list', {})).find((t) => t.pool === POOL)!;
    await host.call(node.nodeId, 'lun.create', { pool: POOL, name: 'vm2', sizeBytes: 8 << 20 });
    const added = await host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [VIP], luns: [lun('vm1', 1), lun('vm2', 2)] });
    assert.deepEqual([added.changed, added.target.pid], [true, before.pid]);
    assert.deepEqual(await luns(), [1, 2]);
    await qemuIo('write -P 0x77 0 64k', 2);
    assert.match(await qemuIo('read -P 0x77 0 64k', 2), /read 65536\/65536/);
    // each LUN's blocks are in its own file of the pool
    const paths = (await host.call(node.nodeId, 'iscsi.list', {})).find((t) => t.pool === POOL)!.luns.map((l) => l.path);
    const heads = await Promise.all(paths.map(async (f) => (await node.exec(['od', '-An', '-tx1', '-N2', f])).stdout.trim()));
    assert.deepEqual(heads, ['5a 5a', '77 77']);
    await rejects(host.call(node.nodeId, 'lun.destroy', { pool: POOL, name: 'vm2' }), ErrorCode.InvalidArgument, /served by its target/);
    const removed = await host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [VIP], luns: [lun('vm1', 1)] });
    assert.deepEqual([removed.changed, removed.target.pid], [true, before.pid]);
    assert.deepEqual(await luns(), [1]);
    assert.equal((await host.call(node.nodeId, 'lun.destroy', { pool: POOL, name: 'vm2' })).changed, true);
    assert.equal((await host.call(node.nodeId, 'lun.destroy', { pool: POOL, name: 'vm2' })).changed, false);
    assert.match(await qemuIo('read -P 0x5a 0 64k'), /read 65536\/65536/);
  });

  test('a restarted host-executor finds the running target; iscsi.stop ends it, and the data stays in the pool', async () => {
    const pid = (await host.call(node.nodeId, 'iscsi.list', {})).find((t) => t.pool === POOL)!.pid;
    await node.restartExecutor();
    const after = (await host.call(node.nodeId, 'iscsi.list', {})).find((t) => t.pool === POOL)!;
    assert.deepEqual([after.running, after.pid], [true, pid]);
    assert.equal((await host.call(node.nodeId, 'iscsi.stop', { pool: POOL })).changed, true);
    assert.notEqual((await node.peer(['iscsi-ls', `iscsi://${VIP}`])).exitCode, 0, 'nothing serves the portal');
    const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone';
    assert.ok(state === 'gone' || state === 'Z', `its tgtd is gone (${state})`);
    assert.equal((await host.call(node.nodeId, 'iscsi.stop', { pool: POOL })).changed, false);
    // started again (as after a move back): the blocks are there
    await host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [VIP], luns: [lun('vm1', 1)] });
    await waitFor(async () => (await luns()).length === 1, { timeoutMs: 10_000, intervalMs: 200, what: 'the target back' });
    assert.match(await qemuIo('read -P 0xa5 4M 64k'), /read 65536\/65536/);
    await host.call(node.nodeId, 'iscsi.stop', { pool: POOL });
  });

  test('CHAP: an initiator without the secret is refused a session, one with it reads its blocks', async () => {
    const chap = { user: 'esx-host1', secret: 'Chap-Secret-12' };
    const r = await host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [VIP], luns: [lun('vm1', 1)], chap });
    assert.equal(r.target.chap, true);
    const anonymous = await node.peer(['iscsi-inq', url(1)]);
    assert.notEqual(anonymous.exitCode, 0, 'no session without CHAP');
    const wrong = await node.peer(['iscsi-inq', `iscsi://${chap.user}%wrong-secret-1@${VIP}/${poolIqn('it', POOL)}/1`]);
    assert.notEqual(wrong.exitCode, 0, 'no session with a wrong secret');
    const withChap = `iscsi://${chap.user}%${chap.secret}@${VIP}/${poolIqn('it', POOL)}/1`;
    const inq = await node.peer(['iscsi-inq', withChap]);
    assert.equal(inq.exitCode, 0, inq.stderr);
    assert.match(inq.stdout, /TANDEM/);
    const read = await node.peer(['qemu-io', '-f', 'raw', '-c', 'read -P 0xa5 4M 64k', withChap]);
    assert.match(read.stdout, /read 65536\/65536/, read.stdout + read.stderr);
    // turning CHAP off restarts the target without it
    const off = await host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [VIP], luns: [lun('vm1', 1)] });
    assert.equal(off.target.chap, false);
    assert.notEqual(off.target.pid, r.target.pid);
    assert.equal((await node.peer(['iscsi-inq', url(1)])).exitCode, 0);
    await host.call(node.nodeId, 'iscsi.stop', { pool: POOL });
  });

  test("FC: this node's LIO configuration, ALUA active while it serves, standby once stopped", async () => {
    const r = await host.call(node.nodeId, 'iscsi.start', { pool: POOL, addresses: [], luns: [lun('vm1', 1)], fc: true, fcNodes: ['it-other', node.nodeId] });
    assert.equal(r.target.running, false, 'no iSCSI portal without a floating IP');
    assert.equal(r.target.fc?.role, 'active');
    const file = join(node.stateDir, 'host-executor', 'fc', `${POOL}.json`);
    const read = () => JSON.parse(readFileSync(file, 'utf8')) as { role: string; saveconfig: LioSaveConfig; aluaWrites: Array<{ path: string; value: string }> };
    const active = read();
    const id = lunIdentity('it', POOL, { name: 'vm1', number: 1 });
    assert.deepEqual(
      active.saveconfig.storage_objects.map((o) => [o.plugin, o.dev?.endsWith('/.tandem/luns/vm1'), o.wwn, o.alua_tpgs[0].name, o.alua_tpgs[0].tg_pt_gp_id, o.alua_tpgs[0].alua_access_state]),
      [['fileio', true, id.serial, `tandem-${node.nodeId}`, 2, 0]],
    );
    assert.deepEqual(
      active.saveconfig.targets.map((t) => [t.fabric, t.wwn, t.tpgs[0].luns[0].index]),
      [['qla2xxx', WWPN, 1]],
    );
    assert.deepEqual(active.aluaWrites, [{ path: `core/fileio_0/blk-vm1/alua/tandem-${node.nodeId}/alua_access_state`, value: '0' }]);
    assert.equal((await host.call(node.nodeId, 'iscsi.stop', { pool: POOL })).changed, true);
    const standby = read();
    assert.equal(standby.role, 'standby');
    assert.deepEqual(
      standby.saveconfig.storage_objects.map((o) => [o.plugin, o.nullio, o.wwn, o.alua_tpgs[0].alua_access_state]),
      [['rd_mcp', true, id.serial, 2]],
    );
    const listed = await host.call(node.nodeId, 'iscsi.list', {});
    assert.ok(!listed.some((t) => t.pool === POOL && t.running));
  });
});
