import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import { ErrorCode, type PoolLuns, type RmOperation, type RmOpRequest } from '@tandem/contracts';
import { HostClient, ResourceManagerClient, retryWhileUnavailable, waitForStreamLeader } from '@tandem/messaging';
import { Testbed, type TestbedStatus } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { OtlpCollector } from '../support/otlp-collector';
import { servedOn, setUpTwoNodeCluster } from '../support/cluster';
import { printNodeLogsOnFailure } from '../support/failure-logs';
import { runTandem } from '../support/tandem-cli';

/**
 * iSCSI LUNs follow their pool. A LUN is added with the CLI; from the client namespace a
 * userspace initiator (libiscsi: iscsi-ls, iscsi-inq; qemu-io for blocks) writes blocks through
 * the floating IP; the pool moves, then its owner is powered off. Each time the initiator finds
 * the same target name, LUN number, serial and device identifier, and reads back every block
 * it wrote (each with its own pattern, verified by qemu-io).
 */
describe('iSCSI LUNs through a move and a power-off failover (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const POOL = 'blocks';
  const VIP = '10.77.3.93';
  const NODES = ['node-a', 'node-b'] as const;
  printNodeLogsOnFailure(() => tb.root, [...NODES]);
  const traces = new OtlpCollector();
  let status: TestbedStatus;
  let nc: NatsConnection;
  let host: HostClient;
  let rmc: ResourceManagerClient;
  let target: PoolLuns;
  /** The LUN's backing file on the nodes (the pool's mountpoint is the same on each). */
  let backing = '';
  const written: Array<{ offset: number; pattern: number }> = [];

  const rm = <O extends RmOperation>(op: O, req: RmOpRequest<O>, waitForMs = 60_000) =>
    retryWhileUnavailable(() => rmc.call(op, req, 60_000), { waitForMs, codes: [ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.NotLeader] });
  const cli = (node: string, args: string[], env?: Record<string, string>) => runTandem(status.nodes.find((n) => n.name === node)!.api!, args, { ca: status.ca, timeoutMs: 120_000, env });
  /** The initiator's login: none, or CHAP (`user%secret@`) once the pool's target asks for it. */
  let login = '';
  const lunUrl = () => `iscsi://${login}${VIP}/${target.iqn}/1`;

  /** What the initiator sees of LUN 1: the target's name (discovery), the unit serial (VPD 0x80) and the T10 designator of the device identification (VPD 0x83). */
  async function seen(): Promise<{ iqn: string; luns: string[]; serial: string; designator: string }> {
    const ls = await tb.client(['iscsi-ls', '-s', `iscsi://${login}${VIP}`], { timeoutMs: 15_000 });
    if (ls.exitCode !== 0) throw new Error(`iscsi-ls: ${ls.stderr}${ls.stdout}`);
    const iqn = /Target:(\S+) Portal:/.exec(ls.stdout)?.[1] ?? '';
    const luns = [...ls.stdout.matchAll(/^Lun:(\d+)\s+Type:DIRECT_ACCESS/gm)].map((m) => m[1]);
    const sn = await tb.client(['iscsi-inq', '-e', '1', '-c', '128', lunUrl()], { timeoutMs: 15_000 });
    if (sn.exitCode !== 0) throw new Error(`iscsi-inq serial: ${sn.stderr}`);
    const id = await tb.client(['iscsi-inq', '-e', '1', '-c', '131', lunUrl()], { timeoutMs: 15_000 });
    if (id.exitCode !== 0) throw new Error(`iscsi-inq device identification: ${id.stderr}`);
    const serial = /Unit Serial Number:\[\s*([^\]\s]+)\]/.exec(sn.stdout)?.[1] ?? '';
    const designator = /T10_VENDORT_ID\s*\nDesignator:\[([^\]]*)\]/.exec(id.stdout)?.[1] ?? '';
    return { iqn, luns, serial, designator };
  }

  /** The initiator (re)connects through the floating IP and sees the same disk as at first. */
  async function sameDisk(timeoutMs: number): Promise<void> {
    const got = await waitFor(() => seen(), { timeoutMs, intervalMs: 300, what: `the initiator reaching ${lunUrl()}` });
    assert.equal(got.iqn, target.iqn, 'the same target name');
    assert.deepEqual(got.luns, ['1'], 'the same LUN number');
    assert.equal(got.serial, target.luns[0].serial, 'the same unit serial');
    // tgt reports the identifier's 32 hex digits as a T10 designator (readable here) and as the NAA (binary)
    assert.equal(got.designator, target.luns[0].deviceId.replace(/^naa\./, ''), 'the same device identifier');
  }

  async function qemuIo(cmd: string): Promise<string> {
    const r = await tb.client(['qemu-io', '-f', 'raw', '-c', cmd, '-c', 'flush', lunUrl()], { timeoutMs: 30_000 });
    if (r.exitCode !== 0 || /fail|error/i.test(r.stdout + r.stderr)) throw new Error(`qemu-io ${cmd}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  /** 64 KiB of one byte pattern at `offset`, flushed to the target (SYNCHRONIZE CACHE) before it returns. */
  async function writeBlocks(offset: number, pattern: number): Promise<void> {
    const out = await qemuIo(`write -P ${pattern} ${offset} 64k`);
    assert.match(out, /wrote 65536\/65536 bytes/);
    written.push({ offset, pattern });
  }

  /** Every block written so far reads back with its pattern. */
  async function readAllBack(): Promise<void> {
    for (const w of written) assert.match(await qemuIo(`read -P ${w.pattern} ${w.offset} 64k`), /read 65536\/65536 bytes/, `the blocks at ${w.offset} read back`);
  }

  /** Which nodes run a target for the pool (asked of each node's host-executor). */
  async function targetsOn(): Promise<string[]> {
    const out: string[] = [];
    for (const n of NODES) {
      const list = await host.call(n, 'iscsi.list', {}, 5_000).catch(() => []);
      if (list.some((t) => t.pool === POOL && t.running)) out.push(n);
    }
    return out;
  }

  before(() =>
    setUpTwoNodeCluster(tb, traces, POOL, async (up) => {
      ({ status, nc } = up);
      host = new HostClient(nc);
      rmc = new ResourceManagerClient(nc);
      await rm('pool.attach', { pool: POOL, node: 'node-a', vips: [`cli0:${VIP}/24`] });
    }),
  );

  after(async () => {
    await nc?.close().catch(() => undefined);
    await traces.stop();
    if (process.env.TANDEM_E2E_KEEP !== '1') await tb.down();
  });

  test('a LUN added with the CLI is served on the floating IP; the initiator writes blocks', async () => {
    const bad = await cli('node-a', ['pool', 'lun', 'add', POOL, 'vm1', '--size', '1000']);
    assert.equal(bad.code, 2, 'a size that is not a multiple of 512 is a usage error');
    assert.match(bad.stderr, /multiple of 512/);
    const add = await cli('node-a', ['pool', 'lun', 'add', POOL, 'vm1', '--size', '16M']);
    assert.equal(add.code, 0, `${add.stdout}${add.stderr}`);
    const list = await cli('node-b', ['--json', 'pool', 'lun', 'list', POOL]);
    assert.equal(list.code, 0, list.stderr);
    target = JSON.parse(list.stdout) as PoolLuns;
    assert.match(target.iqn, /^iqn\.2026-01\.io\.tandem:[a-z0-9.-]+:blocks$/);
    assert.deepEqual(target.portals, [`${VIP}:3260`]);
    assert.deepEqual(
      target.luns.map((l) => [l.number, l.name, l.sizeBytes]),
      [[1, 'vm1', 16 * 1024 * 1024]],
    );
    assert.match(target.luns[0].serial, /^[0-9a-f]{32}$/);
    assert.match(target.luns[0].deviceId, /^naa\.6001405[0-9a-f]{25}$/);
    // the backing is a file in the pool: zfs-fuse has no zvols
    const [t] = (await host.call('node-a', 'iscsi.list', {})).filter((x) => x.pool === POOL);
    assert.equal(t.luns[0].backing, 'file');
    assert.match(t.luns[0].path, /\/\.tandem\/luns\/vm1$/);
    backing = t.luns[0].path;
    assert.equal((await tb.exec('node-a', ['test', '-f', backing])).exitCode, 0, `${backing} exists on node-a`);
    await sameDisk(15_000);
    // bound to the floating IP only: the node's own client address serves no target
    const own = [...(await tb.exec('node-a', ['ip', '-o', '-4', 'addr', 'show', 'dev', 'cli0'])).stdout.matchAll(/inet (\S+)\//g)].map((m) => m[1]).filter((a) => a !== VIP);
    assert.ok(own.length > 0, 'node-a has its own client address');
    for (const a of own) assert.notEqual((await tb.client(['iscsi-ls', `iscsi://${a}`], { timeoutMs: 15_000 })).exitCode, 0, `nothing serves iSCSI on ${a}`);
    await writeBlocks(0, 0x11);
    await writeBlocks(1 << 20, 0x22);
    await readAllBack();
    assert.deepEqual(await targetsOn(), ['node-a']);
  });

  test('CHAP set with the CLI: an initiator without the secret is refused, one with it reads every block; the secret is never shown', async () => {
    const chap = { user: 'esx-host1', secret: 'Tandem-Chap-12' };
    const short = await cli('node-a', ['pool', 'chap', 'set', POOL, '--user', chap.user], { TANDEM_CHAP_SECRET: 'too-short' });
    assert.equal(short.code, 2, 'a secret under 12 characters is a usage error');
    assert.match(short.stderr, /at least 12 characters/);
    const set = await cli('node-a', ['pool', 'chap', 'set', POOL, '--user', chap.user], { TANDEM_CHAP_SECRET: chap.secret });
    assert.equal(set.code, 0, `${set.stdout}${set.stderr}`);
    const list = await cli('node-b', ['--json', 'pool', 'lun', 'list', POOL]);
    assert.equal((JSON.parse(list.stdout) as PoolLuns).chapUser, chap.user);
    assert.ok(!list.stdout.includes(chap.secret), 'the secret is not shown');
    // the pool record (which events carry) knows nothing of it
    assert.ok(!JSON.stringify(await rm('pool.get', { pool: POOL })).includes(chap.secret), 'the secret is not in the pool record');
    const refused = await tb.client(['iscsi-inq', lunUrl()], { timeoutMs: 15_000 });
    assert.notEqual(refused.exitCode, 0, 'an initiator without CHAP is refused');
    login = `${chap.user}%wrong-secret-1@`;
    assert.notEqual((await tb.client(['iscsi-inq', lunUrl()], { timeoutMs: 15_000 })).exitCode, 0, 'a wrong secret is refused');
    login = `${chap.user}%${chap.secret}@`;
    await sameDisk(15_000);
    await readAllBack();
  });

  test('the pool moves: the initiator finds the same disk on the other node and reads every block back', async () => {
    const p = await rm('pool.move', { pool: POOL, to: 'node-b' });
    assert.deepEqual([p.state, p.node], ['serving', 'node-b']);
    assert.deepEqual(await targetsOn(), ['node-b'], 'the target runs on the new owner only');
    await sameDisk(15_000);
    await readAllBack();
    await writeBlocks(2 << 20, 0x33);
  });

  test('its owner is powered off: the peer takes the pool over, the same disk, every block back', async () => {
    await waitForStreamLeader(nc, 'witness', 60_000);
    await tb.powerOff('node-b');
    try {
      await servedOn(rmc, POOL, 'node-a');
      await sameDisk(30_000);
      await readAllBack();
      await writeBlocks(3 << 20, 0x44);
      await readAllBack();
    } finally {
      await tb.powerOn('node-b');
    }
  });

  test('the LUN is removed: the target serves no LUN, its backing is gone', async () => {
    const r = await cli('node-a', ['pool', 'lun', 'remove', POOL, 'vm1', '--yes']);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    const ls = await tb.client(['iscsi-ls', '-s', `iscsi://${login}${VIP}`], { timeoutMs: 15_000 });
    assert.doesNotMatch(ls.stdout, /Lun:1\s/);
    const [t] = (await host.call('node-a', 'iscsi.list', {})).filter((x) => x.pool === POOL);
    assert.ok(!t || t.luns.length === 0, 'no LUN left in the target');
    assert.notEqual((await tb.exec('node-a', ['test', '-e', backing])).exitCode, 0, `${backing} is gone`);
    const again = await cli('node-a', ['pool', 'lun', 'remove', POOL, 'vm1', '--yes']);
    assert.equal(again.code, 1, 'removing it again names what is missing');
    assert.match(again.stderr, /has no LUN vm1/);
    // CHAP cleared: the pool's target (when it has LUNs again) lets initiators in without it
    const cleared = await cli('node-a', ['pool', 'chap', 'clear', POOL]);
    assert.equal(cleared.code, 0, `${cleared.stdout}${cleared.stderr}`);
    assert.equal((JSON.parse((await cli('node-a', ['--json', 'pool', 'lun', 'list', POOL])).stdout) as PoolLuns).chapUser, null);
    const twice = await cli('node-a', ['pool', 'chap', 'clear', POOL]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /has no CHAP to clear/);
  });
});
