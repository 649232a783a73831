import * as fs from 'node:fs';
import * as path from 'node:path';
import { zfs, zpool } from '@tandem/zfs';
import { TestbedError } from './errors';
import { NETWORKS, PREFIX_LEN } from './layout';
import { peerGroup, renderPeerPoolConfig, renderPeerSmbConf } from './pacemaker';
import { sleep } from './proc';
import type { Testbed } from './testbed';

/*
 * One HA pool on the Pacemaker peer (`npm run testbed -- up --pacemaker`), made the way an
 * operator of that stack makes it: the pool created on one node and exported, then handed to
 * Pacemaker as a group (pool, floating IP, smbd); and the questions a benchmark asks of it.
 */

export interface PeerPool {
  pool: string;
  vip: string;
  /** Node the pool is created on (Pacemaker then starts it where it likes). */
  createOn: string;
}

async function must(tb: Testbed, node: string, argv: string[], what: string, input?: string): Promise<string> {
  const r = await tb.exec(node, argv, { timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
  if (r.exitCode !== 0) throw new TestbedError('COMMAND_FAILED', `${node}: ${what} failed (exit ${r.exitCode}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Where the peer's group of `pool` runs now (null: stopped, or not known yet). */
export async function peerLocate(tb: Testbed, pool: string, askNode?: string): Promise<string | null> {
  const st = await tb.status();
  const nodes = st.nodes.filter((n) => n.role === 'storage' && n.state === 'running').map((n) => n.name);
  for (const n of askNode ? [askNode] : nodes) {
    const r = await tb.exec(n, ['crm_resource', '--locate', '--resource', peerGroup(pool)], { timeoutMs: 10_000 }).catch(() => null);
    if (r?.exitCode !== 0) continue;
    const m = /is running on: (\S+)/.exec(r.stdout);
    return m ? m[1]! : null;
  }
  return null;
}

/** Is the floating IP up on `node` (on its client interface)? */
export async function vipOn(tb: Testbed, node: string, vip: string): Promise<boolean> {
  const r = await tb.exec(node, ['ip', '-o', 'addr', 'show', 'dev', NETWORKS.client.ifname], { timeoutMs: 5_000 }).catch(() => null);
  return r?.stdout.includes(` ${vip}/`) ?? false;
}

/**
 * Creates the pool (one 128 MiB vdev in the JBOD, a dataset `files` open to guests), exports it,
 * and gives it to Pacemaker: fencing device, ZFS, IPaddr2 and smbd in one group. Resolves when
 * the group runs somewhere and the client has written probe.txt through the share.
 */
export async function createPeerPool(tb: Testbed, p: PeerPool): Promise<string> {
  const st = await tb.status();
  const mountpoint = path.join(path.dirname(st.jbod), 'mnt', p.pool);
  const vdev = path.join(st.jbod, `${p.pool}-0`);
  fs.writeFileSync(vdev, '');
  fs.truncateSync(vdev, 128 * 1024 * 1024);
  await must(tb, p.createOn, zpool.create(p.pool, [vdev], mountpoint), 'zpool create');
  await must(tb, p.createOn, zfs.create(`${p.pool}/files`), 'zfs create');
  await must(tb, p.createOn, ['chmod', '1777', path.join(mountpoint, 'files')], 'chmod');
  await must(tb, p.createOn, zpool.export(p.pool, false), 'zpool export');

  const smbConf = path.join(tb.paths.pacemakerDir, `${p.pool}-smb.conf`);
  fs.mkdirSync(tb.paths.pacemakerDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(smbConf, renderPeerSmbConf(p.pool, p.vip, { name: 'files', path: path.join(mountpoint, 'files') }));
  const storage = st.nodes.filter((n) => n.role === 'storage').map((n) => n.name);
  const crmFile = path.join(tb.paths.pacemakerDir, `${p.pool}.crm`);
  fs.writeFileSync(crmFile, renderPeerPoolConfig(storage, { pool: p.pool, deviceDir: st.jbod, vip: p.vip, prefixLength: PREFIX_LEN, nic: NETWORKS.client.ifname, smbConf }));
  await must(tb, p.createOn, ['crm', 'configure', 'load', 'update', crmFile], 'crm configure load update');

  const t0 = Date.now();
  for (;;) {
    const at = await peerLocate(tb, p.pool, p.createOn);
    if (at && (await vipOn(tb, at, p.vip))) {
      const put = await tb.client(['smbclient', '-N', `//${p.vip}/files`, '-t', '2', '-c', 'put /etc/hostname probe.txt'], { timeoutMs: 10_000 });
      if (put.exitCode === 0) return at;
    }
    if (Date.now() - t0 > 120_000) {
      const mon = await tb.exec(p.createOn, ['crm_mon', '-1', '--show-detail'], { timeoutMs: 10_000 }).catch(() => null);
      throw new TestbedError('TIMEOUT', `Pacemaker did not serve ${p.pool} through ${p.vip} within 120 s:\n${mon?.stdout ?? ''}`);
    }
    await sleep(250);
  }
}

/** Both nodes online in the peer cluster, as `node` sees it. */
export async function peerBothOnline(tb: Testbed, node: string, nodes: readonly string[] = ['node-a', 'node-b']): Promise<boolean> {
  const r = await tb.exec(node, ['crm_mon', '-1', '--output-as=xml'], { timeoutMs: 10_000 }).catch(() => null);
  if (r?.exitCode !== 0) return false;
  return nodes.every((n) => new RegExp(`<node name="${n}"[^>]* online="true"`).test(r.stdout));
}

/** The peer's recorded fencing of `target` (stonith_admin --history), as `node` sees it: true when one succeeded. */
export async function peerFenced(tb: Testbed, node: string, target: string): Promise<boolean> {
  const r = await tb.exec(node, ['stonith_admin', '--history', target, '--output-as=xml'], { timeoutMs: 10_000 }).catch(() => null);
  return r?.exitCode === 0 && /<fence_event[^>]*status="success"/.test(r.stdout);
}

export interface PeerPhases {
  /** Fault → corosync forms the new membership without the lost node (token loss, consensus). */
  detectionMs: number | null;
  /** Membership → the fencer reports the lost node fenced. */
  fencingMs: number | null;
  /** Fenced → the group's last member started on the survivor (pool import, IP, smbd). */
  startMs: number | null;
  /** Of which the pool import alone (ZFS start). */
  importMs: number | null;
}

/** Milliseconds since the epoch of a log line's `Mon DD HH:MM:SS.mmm` time stamp (local time, this year). */
export function logTime(line: string, year = new Date().getFullYear()): number | null {
  const m = /^([A-Z][a-z]{2}) (\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})/.exec(line);
  if (!m) return null;
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[1]!);
  if (month < 0) return null;
  return new Date(year, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])).getTime();
}

function firstAfter(lines: readonly string[], since: number, re: RegExp): number | null {
  for (const l of lines) {
    const t = logTime(l);
    if (t !== null && t >= since && re.test(l)) return t;
  }
  return null;
}

/**
 * The phases of one failover from the survivor's corosync and Pacemaker logs (texts given),
 * `faultAt` the wall-clock time of the fault (ms since the epoch).
 */
export function parsePeerPhases(corosyncLog: string, pacemakerLog: string, pool: string, target: string, faultAt: number): PeerPhases {
  const c = corosyncLog.split('\n');
  const p = pacemakerLog.split('\n');
  const membership = firstAfter(c, faultAt, /\[TOTEM ?\] A new membership .* was formed/);
  const fenced = firstAfter(p, faultAt, new RegExp(`(Operation '?\\w+'? .*targeting ${target}.* (OK|returned:? 0)|Peer ${target} was terminated \\(\\w+\\) by \\S+ on behalf of \\S+: OK)`));
  const importDone = firstAfter(p, faultAt, new RegExp(`Result of start operation for p-${pool}-pool on \\S+: ok`));
  const lastStart = [`p-${pool}-pool`, `p-${pool}-ip`, `p-${pool}-smb`]
    .map((r) => firstAfter(p, faultAt, new RegExp(`Result of start operation for ${r} on \\S+: ok`)))
    .reduce<number | null>((a, b) => (b === null ? a : a === null ? b : Math.max(a, b)), null);
  const importStart = firstAfter(p, faultAt, new RegExp(`Requesting local execution of start operation for p-${pool}-pool`));
  return {
    detectionMs: membership === null ? null : membership - faultAt,
    fencingMs: membership === null || fenced === null ? null : fenced - membership,
    startMs: fenced === null || lastStart === null ? null : lastStart - fenced,
    importMs: importStart === null || importDone === null ? null : importDone - importStart,
  };
}

/** parsePeerPhases on the testbed's log files of `survivor`. */
export function peerPhases(tb: Testbed, survivor: string, pool: string, target: string, faultAt: number): PeerPhases {
  const read = (what: string) => {
    try {
      return fs.readFileSync(tb.paths.logFile(survivor, what), 'utf8');
    } catch {
      return '';
    }
  };
  return parsePeerPhases(read('corosync'), read('pacemaker'), pool, target, faultAt);
}
