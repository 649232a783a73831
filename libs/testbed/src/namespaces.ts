import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseMountInfo } from '@tandem/host';
import { TestbedError } from './errors';
import { NETNS_DIR, NETWORKS, NETWORK_NAMES, NetworkName, NodeSpec, OUR_BRIDGES, OUR_LINK_RE, OUR_NETNS_RE, Paths, PREFIX_LEN, ROOT_ADMIN_IP, hostVethName, netnsPath } from './layout';
import { isAlive, killPid, nsInode, run, sleep } from './proc';

const IP_TIMEOUT = 10_000;

// ---------------------------------------------------------------------------------------------
// Links and network namespaces
// ---------------------------------------------------------------------------------------------

export interface LinkInfo {
  name: string;
  /** Administratively up (IFF_UP). */
  adminUp: boolean;
}

/** Links in the root namespace. */
export async function listLinks(): Promise<LinkInfo[]> {
  const res = await run('ip', ['-o', 'link', 'show'], { timeoutMs: IP_TIMEOUT });
  const links: LinkInfo[] = [];
  for (const line of res.stdout.split('\n')) {
    // "12: tb-a-hb@if11: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ..."
    const m = /^\d+:\s+([^:@\s]+)(?:@[^:\s]+)?:\s+<([^>]*)>/.exec(line);
    if (!m) continue;
    links.push({ name: m[1]!, adminUp: m[2]!.split(',').includes('UP') });
  }
  return links;
}

export async function listNetns(): Promise<string[]> {
  const res = await run('ip', ['netns', 'list'], { timeoutMs: IP_TIMEOUT });
  return res.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

export function netnsExists(spec: NodeSpec): boolean {
  // `ip netns add` bind-mounts the namespace on /run/netns/<name>; a plain file without the
  // mount (left over after a crash) has the inode of a regular file, not of an nsfs object.
  const p = netnsPath(spec);
  return fs.existsSync(p) && isMountPoint(p);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Locally administered MAC: 02:7b:<network 1-3>:<last octet of the node's address>:00:<1 node side, 2 host side>. */
export function nodeMac(spec: NodeSpec, net: NetworkName, side: 'node' | 'host'): string {
  const addr = spec.addresses[net];
  const last = addr === null ? 0 : Number(addr.split('.')[3]);
  return ['02', '7b', hex2(NETWORK_NAMES.indexOf(net) + 1), hex2(last), '00', side === 'node' ? '01' : '02'].join(':');
}

function bridgeMac(net: NetworkName): string {
  return ['02', '7b', hex2(NETWORK_NAMES.indexOf(net) + 1), '00', '00', '01'].join(':');
}

export async function ensureBridges(): Promise<void> {
  const existing = new Set((await listLinks()).map((l) => l.name));
  await Promise.all(
    NETWORK_NAMES.map(async (net) => {
      const br = NETWORKS[net].bridge;
      if (!existing.has(br)) {
        // an explicit MAC, or the bridge takes the lowest port MAC and changes it as ports come and go
        await run('ip', ['link', 'add', 'name', br, 'address', bridgeMac(net), 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'], { timeoutMs: IP_TIMEOUT });
      }
      await run('ip', ['link', 'set', 'dev', br, 'up'], { timeoutMs: IP_TIMEOUT });
    }),
  );
  await run('ip', ['addr', 'replace', `${ROOT_ADMIN_IP}/${PREFIX_LEN}`, 'dev', NETWORKS.admin.bridge], {
    timeoutMs: IP_TIMEOUT,
  });
}

/**
 * Creates the node's network namespace (if needed) and its veths on every bridge it belongs to.
 * Host-side veths listed in `cut` are left administratively down.
 */
export async function ensureNodeNetwork(paths: Paths, spec: NodeSpec, cut: ReadonlySet<NetworkName>): Promise<void> {
  if (!netnsExists(spec)) {
    if (fs.existsSync(netnsPath(spec))) {
      // stale file from an interrupted run
      await run('ip', ['netns', 'del', spec.netns], { timeoutMs: IP_TIMEOUT, reject: false });
      fs.rmSync(netnsPath(spec), { force: true });
    }
    if (!isMountPoint(NETNS_DIR)) {
      // the first `ip netns add` on a machine turns /run/netns into a shared bind mount of itself
      recordHostPath(paths, { path: NETNS_DIR, kind: 'netns-mount', existed: fs.existsSync(NETNS_DIR) });
    }
    await run('ip', ['netns', 'add', spec.netns], { timeoutMs: IP_TIMEOUT });
  }
  await run('ip', ['-n', spec.netns, 'link', 'set', 'dev', 'lo', 'up'], { timeoutMs: IP_TIMEOUT });
  const hostLinks = new Set((await listLinks()).map((l) => l.name));
  for (const net of NETWORK_NAMES) {
    const addr = spec.addresses[net];
    if (addr === null) continue;
    const def = NETWORKS[net];
    const host = hostVethName(spec, net);
    const peerOk = hostLinks.has(host) && (await run('ip', ['-n', spec.netns, 'link', 'show', 'dev', def.ifname], { timeoutMs: IP_TIMEOUT, reject: false })).exitCode === 0;
    if (!peerOk) {
      // half-built pair from an interrupted run, or a host side whose peer went with an old namespace
      if (hostLinks.has(host)) await run('ip', ['link', 'del', 'dev', host], { timeoutMs: IP_TIMEOUT, reject: false });
      await run('ip', ['-n', spec.netns, 'link', 'del', 'dev', def.ifname], { timeoutMs: IP_TIMEOUT, reject: false });
      // Fixed MACs, like real NICs: after a power cycle the peers' ARP caches are still right
      // (random ones leave the root namespace unable to reach the node for ~30 s).
      await run('ip', ['link', 'add', 'name', host, 'address', nodeMac(spec, net, 'host'), 'type', 'veth', 'peer', 'name', def.ifname, 'address', nodeMac(spec, net, 'node'), 'netns', spec.netns], {
        timeoutMs: IP_TIMEOUT,
      });
      await run('ip', ['link', 'set', 'dev', host, 'master', def.bridge], { timeoutMs: IP_TIMEOUT });
      if (!cut.has(net)) await run('ip', ['link', 'set', 'dev', host, 'up'], { timeoutMs: IP_TIMEOUT });
    }
    await run('ip', ['-n', spec.netns, 'addr', 'replace', `${addr}/${PREFIX_LEN}`, 'dev', def.ifname], {
      timeoutMs: IP_TIMEOUT,
    });
    await run('ip', ['-n', spec.netns, 'link', 'set', 'dev', def.ifname, 'up'], { timeoutMs: IP_TIMEOUT });
  }
}

export async function setHostLink(spec: NodeSpec, net: NetworkName, up: boolean): Promise<void> {
  await run('ip', ['link', 'set', 'dev', hostVethName(spec, net), up ? 'up' : 'down'], { timeoutMs: IP_TIMEOUT });
}

/** Pids of every process whose network namespace is `netns`. */
export async function netnsPids(netns: string): Promise<number[]> {
  const res = await run('ip', ['netns', 'pids', netns], { timeoutMs: IP_TIMEOUT, reject: false });
  if (res.exitCode !== 0) return [];
  return res.stdout
    .split('\n')
    .map((l) => Number.parseInt(l.trim(), 10))
    .filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
}

/**
 * Kills every process in the network namespace. With `graceMs` > 0: SIGTERM first, wait up to
 * graceMs, then SIGKILL what is left. Loops until the namespace is empty (processes may fork
 * while they are being killed).
 */
export async function killNetnsProcesses(netns: string, graceMs: number): Promise<void> {
  let pids = await netnsPids(netns);
  if (pids.length === 0) return;
  if (graceMs > 0) {
    for (const pid of pids) killPid(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      await sleep(100);
      pids = await netnsPids(netns);
      if (pids.length === 0) return;
    }
  }
  // a killed process leaves the namespace early in its exit, while it may still be tearing
  // down (a FUSE daemon's threads and mounts): wait until every one of them is really gone
  const killed = new Set<number>();
  const exiting = () => [...killed].filter(isAlive);
  for (let round = 0; round < 50; round++) {
    pids = await netnsPids(netns);
    if (pids.length === 0 && exiting().length === 0) return;
    for (const pid of pids) {
      killed.add(pid);
      killPid(pid, 'SIGKILL');
    }
    await sleep(round < 5 ? 50 : 200);
  }
  pids = [...new Set([...(await netnsPids(netns)), ...exiting()])];
  if (pids.length > 0) {
    throw new TestbedError(
      'COMMAND_FAILED',
      `processes ${pids.join(', ')} in ${netns} survive SIGKILL (stuck in the kernel, e.g. on a dead FUSE mount?); check \`ps -o pid,stat,wchan,cmd -p ${pids.join(',')}\``,
    );
  }
}

/** Pids (other than ours and our ancestors') whose command line mentions one of the directories. */
export function processesUsing(dirs: readonly string[]): number[] {
  const skip = new Set([process.pid, process.ppid, 1]);
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || skip.has(pid)) continue;
    let cmdline: string;
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (dirs.some((d) => cmdline.includes(`${d}/`) || cmdline.endsWith(d) || cmdline.includes(`${d} `))) found.push(pid);
  }
  return found;
}

/** Kills the processes in the node's netns whose /proc/<pid>/comm is in `names`. */
export async function killNamedInNetns(netns: string, names: readonly string[]): Promise<void> {
  for (let round = 0; round < 40; round++) {
    const pids = (await netnsPids(netns)).filter((pid) => {
      try {
        return names.includes(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
      } catch {
        return false;
      }
    });
    if (pids.length === 0) return;
    for (const pid of pids) killPid(pid, 'SIGKILL');
    await sleep(50);
  }
}

/** Is `pid` alive and inside the node's network namespace? */
export function pidInNetns(pid: number, spec: NodeSpec): boolean {
  const want = nsInode(netnsPath(spec));
  return want !== null && isAlive(pid) && nsInode(`/proc/${pid}/ns/net`) === want;
}

// ---------------------------------------------------------------------------------------------
// Mount namespaces (storage nodes): private tmpfs over zfs-fuse's runtime and cache directories
// ---------------------------------------------------------------------------------------------

/** Directories zfs-fuse keeps its socket, lock, pool cache and config in. */
export const ZFS_PRIVATE_DIRS = ['/run/zfs', '/var/lock/zfs', '/var/lib/zfs', '/etc/zfs'];
/**
 * Other runtime directories a node keeps to itself: tgt's control sockets (/var/run/tgtd/socket.N,
 * one per pool's tgtd), so that two nodes' targets never share a management port.
 */
export const NODE_PRIVATE_DIRS = [...ZFS_PRIVATE_DIRS, '/run/tgtd'];

function mountPoints(mountinfo: string): string[] {
  return parseMountInfo(mountinfo).map((m) => m.mountPoint);
}

export function rootMountPoints(): string[] {
  return mountPoints(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

export function isMountPoint(p: string): boolean {
  return rootMountPoints().includes(p);
}

/** /run/tandem-testbed/ns must be a private bind mount of itself to hold mount-namespace files. */
export async function ensureNsDir(paths: Paths): Promise<void> {
  fs.mkdirSync(paths.nsDir, { recursive: true, mode: 0o755 });
  if (!isMountPoint(paths.nsDir)) {
    await run('mount', ['--bind', paths.nsDir, paths.nsDir], { timeoutMs: IP_TIMEOUT });
  }
  await run('mount', ['--make-private', paths.nsDir], { timeoutMs: IP_TIMEOUT });
}

export function mountNsExists(paths: Paths, name: string): boolean {
  return isMountPoint(paths.mountNsFile(name));
}

/** argv prefix that runs a command inside the node's namespaces (net, plus mount for storage nodes). */
export function nsenterArgs(paths: Paths, spec: NodeSpec, cwd?: string): string[] {
  const args = [`--net=${netnsPath(spec)}`];
  if (spec.role === 'storage') args.push(`--mount=${paths.mountNsFile(spec.name)}`);
  if (cwd) args.push(`--wd=${cwd}`);
  args.push('--');
  return args;
}

/**
 * Creates (or repairs) the storage node's mount namespace, persisted as a bind mount on
 * /run/tandem-testbed/ns/<node>.mnt, with private tmpfs over the zfs-fuse directories, a
 * copy of the host's /etc/zfs configuration, and the other storage nodes' private disks hidden.
 */
export async function ensureMountNs(paths: Paths, spec: NodeSpec): Promise<void> {
  const file = paths.mountNsFile(spec.name);
  for (const d of NODE_PRIVATE_DIRS) {
    // mount points for the tmpfs; normally the zfs-fuse package already created them
    if (!fs.existsSync(d)) {
      fs.mkdirSync(d, { recursive: true, mode: 0o755 });
      recordHostPath(paths, { path: d, kind: 'dir', existed: false });
    }
  }
  if (!isMountPoint(file)) {
    fs.writeFileSync(file, '');
    await run('unshare', [`--mount=${file}`, '--propagation', 'private', 'true'], { timeoutMs: IP_TIMEOUT });
    // The copied mount table holds bind mounts of every network namespace that existed at this
    // moment; they would keep those namespaces (and their veths) alive after `ip netns del`.
    await run('nsenter', [`--mount=${file}`, '--', 'umount', '-l', NETNS_DIR], { timeoutMs: IP_TIMEOUT, reject: false });
  }
  const inside = await run('nsenter', [`--mount=${file}`, '--', 'cat', '/proc/self/mountinfo'], { timeoutMs: IP_TIMEOUT });
  const mounted = new Set(mountPoints(inside.stdout));
  if (!mounted.has('/etc')) {
    // Every node gets its own /etc/hostid (through an overlay on /etc, so the host's /etc stays
    // untouched). With one shared hostid, ZFS on node-b would import a pool that node-a still
    // has imported without needing -f, unlike two real machines.
    const upper = path.join(paths.etcOverlay(spec.name), 'upper');
    const work = path.join(paths.etcOverlay(spec.name), 'work');
    fs.rmSync(paths.etcOverlay(spec.name), { recursive: true, force: true });
    fs.mkdirSync(upper, { recursive: true, mode: 0o755 });
    fs.mkdirSync(work, { recursive: true, mode: 0o755 });
    const hostid = Buffer.alloc(4);
    hostid.writeUInt32LE(nodeHostId(spec));
    fs.writeFileSync(path.join(upper, 'hostid'), hostid, { mode: 0o644 });
    await run('nsenter', [`--mount=${file}`, '--', 'mount', '-t', 'overlay', `tb-${spec.name}-etc`, '-o', `lowerdir=/etc,upperdir=${upper},workdir=${work}`, '/etc'], { timeoutMs: IP_TIMEOUT });
    mounted.delete('/etc/zfs'); // anything mounted below /etc before is hidden now
  }
  for (const dir of NODE_PRIVATE_DIRS) {
    const real = fs.realpathSync(dir); // /var/lock -> /run/lock
    if (mounted.has(real)) continue;
    await run('nsenter', [`--mount=${file}`, '--', 'mount', '-t', 'tmpfs', '-o', 'mode=0755,size=64m', `tb-${spec.name}`, real], { timeoutMs: IP_TIMEOUT });
    if (real === fs.realpathSync('/etc/zfs')) {
      // the tmpfs hides the host's files: copy them in through stdin
      for (const name of ['zfsrc', 'zfs_pool_alert']) {
        const hostFile = path.join('/etc/zfs', name);
        if (!fs.existsSync(hostFile)) continue;
        await run('nsenter', [`--mount=${file}`, '--', 'tee', path.join(real, name)], {
          timeoutMs: IP_TIMEOUT,
          input: fs.readFileSync(hostFile, 'utf8'),
        });
        if (name === 'zfs_pool_alert') {
          await run('nsenter', [`--mount=${file}`, '--', 'chmod', '0755', path.join(real, name)], { timeoutMs: IP_TIMEOUT });
        }
      }
    }
  }
  await ensurePrivateDisks(paths, spec, file, mounted);
}

const STORAGE_NODE_DIR_RE = /^node-[a-z]$/;

/**
 * The storage node's private disks: its own directory (made here, kept across power-off), and
 * every other storage node's covered in this node's mount namespace by an empty read-only tmpfs,
 * so that no node sees another's local disks while the JBOD stays shared. `mounted`: the mount
 * points already in the namespace.
 */
async function ensurePrivateDisks(paths: Paths, spec: NodeSpec, file: string, mounted: ReadonlySet<string>): Promise<void> {
  fs.mkdirSync(paths.localDeviceDir(spec.name), { recursive: true, mode: 0o700 });
  let others: string[] = [];
  try {
    // every node directory exists before any namespace is made (`up` prepares them all first)
    others = fs.readdirSync(path.dirname(paths.nodeDir(spec.name))).filter((n) => STORAGE_NODE_DIR_RE.test(n) && n !== spec.name);
  } catch {
    /* no node directories */
  }
  for (const other of others) {
    const dir = paths.localDeviceDir(other);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const real = fs.realpathSync(dir);
    if (mounted.has(real)) continue;
    await run('nsenter', [`--mount=${file}`, '--', 'mount', '-t', 'tmpfs', '-o', 'ro,mode=0000,size=4k', `tb-${spec.name}-hide`, real], { timeoutMs: IP_TIMEOUT });
  }
}

/** hostid of a storage node: 0x7b0000 + index + 1 (node-a = 0x007b0001). */
export function nodeHostId(spec: NodeSpec): number {
  return 0x7b0000 + (spec.index ?? 0) + 1;
}

/** Unmounts the persisted mount namespace (it disappears once no process is left inside). */
export async function dropMountNs(paths: Paths, name: string): Promise<void> {
  const file = paths.mountNsFile(name);
  if (isMountPoint(file)) {
    const res = await run('umount', [file], { timeoutMs: IP_TIMEOUT, reject: false });
    if (res.exitCode !== 0) await run('umount', ['-l', file], { timeoutMs: IP_TIMEOUT });
  }
  fs.rmSync(file, { force: true });
  fs.rmSync(paths.etcOverlay(name), { recursive: true, force: true });
  fs.rmSync(paths.sbinOverlay(name), { recursive: true, force: true });
}

/** Deletes the node's host-side veths and its network namespace. */
export async function dropNodeNetwork(spec: NodeSpec): Promise<void> {
  const links = new Set((await listLinks()).map((l) => l.name));
  for (const net of NETWORK_NAMES) {
    const host = hostVethName(spec, net);
    if (links.has(host)) await run('ip', ['link', 'del', 'dev', host], { timeoutMs: IP_TIMEOUT, reject: false });
  }
  if (fs.existsSync(netnsPath(spec))) {
    await run('ip', ['netns', 'del', spec.netns], { timeoutMs: IP_TIMEOUT, reject: false });
  }
}

// ---------------------------------------------------------------------------------------------
// Host paths outside our directories that we had to create, so `down` can undo exactly those
// ---------------------------------------------------------------------------------------------

interface HostPathRecord {
  path: string;
  /** file: an empty file made only to be a bind-mount point in the nodes' mount namespaces. */
  kind: 'dir' | 'file' | 'netns-mount';
  existed: boolean;
}

function readHostPaths(paths: Paths): HostPathRecord[] {
  try {
    return JSON.parse(fs.readFileSync(paths.hostPathsFile, 'utf8')) as HostPathRecord[];
  } catch {
    return [];
  }
}

export function recordHostPath(paths: Paths, rec: HostPathRecord): void {
  const recs = readHostPaths(paths);
  if (recs.some((r) => r.path === rec.path && r.kind === rec.kind)) return;
  recs.push(rec);
  fs.mkdirSync(path.dirname(paths.hostPathsFile), { recursive: true });
  fs.writeFileSync(paths.hostPathsFile, `${JSON.stringify(recs, null, 2)}\n`);
}

async function undoHostPaths(paths: Paths, log: (line: string) => void): Promise<void> {
  for (const rec of readHostPaths(paths).reverse()) {
    if (rec.kind === 'netns-mount') {
      // only when no other network namespace is left on the machine
      if ((await listNetns()).length > 0 || !isMountPoint(rec.path)) continue;
      const res = await run('umount', [rec.path], { timeoutMs: IP_TIMEOUT, reject: false });
      if (res.exitCode === 0 && !rec.existed) {
        try {
          fs.rmdirSync(rec.path);
        } catch {
          /* not empty */
        }
      }
      if (res.exitCode === 0) log(`unmounted ${rec.path}`);
    } else if (rec.kind === 'file') {
      fs.rmSync(rec.path, { force: true });
    } else {
      try {
        fs.rmdirSync(rec.path);
      } catch {
        /* not empty or gone */
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Full teardown, from whatever is there (works without a state file)
// ---------------------------------------------------------------------------------------------

export async function teardownAll(paths: Paths, log: (line: string) => void): Promise<void> {
  const namespaces = (await listNetns()).filter((n) => OUR_NETNS_RE.test(n));
  // 1. processes: SIGTERM everyone at once, short grace, then SIGKILL
  await Promise.all(namespaces.map((ns) => killNetnsProcesses(ns, 2_000)));
  if (namespaces.length) log(`stopped processes in ${namespaces.join(', ')}`);

  // ... and stragglers in the root namespace working on our files (e.g. an initdb orphaned by a
  // killed `up`)
  const strays = processesUsing([paths.root, paths.runDir]);
  for (const pid of strays) killPid(pid, 'SIGKILL');
  if (strays.length) log(`killed ${strays.length} leftover process(es) using ${paths.root}`);

  // 2. mount namespaces and anything mounted below our directories (deepest first)
  const ours = (p: string) => p === paths.runDir || p.startsWith(`${paths.runDir}/`) || p === paths.root || p.startsWith(`${paths.root}/`);
  const mounts = rootMountPoints()
    .filter(ours)
    .sort((a, b) => b.length - a.length);
  for (const m of [...new Set(mounts)]) {
    const res = await run('umount', [m], { timeoutMs: IP_TIMEOUT, reject: false });
    if (res.exitCode !== 0) await run('umount', ['-l', m], { timeoutMs: IP_TIMEOUT, reject: false });
  }

  // 3. network namespaces
  for (const ns of namespaces) {
    await run('ip', ['netns', 'del', ns], { timeoutMs: IP_TIMEOUT, reject: false });
  }
  // stale /run/netns files of ours without a mount
  try {
    for (const f of fs.readdirSync(NETNS_DIR)) {
      if (OUR_NETNS_RE.test(f) && !isMountPoint(path.join(NETNS_DIR, f))) fs.rmSync(path.join(NETNS_DIR, f), { force: true });
    }
  } catch {
    /* no /run/netns */
  }

  // 4. links: veths first, then bridges; namespace teardown deletes veths asynchronously
  const deadline = Date.now() + 10_000;
  for (;;) {
    const left = (await listLinks()).map((l) => l.name).filter((n) => OUR_LINK_RE.test(n));
    if (left.length === 0) break;
    const veths = left.filter((n) => !OUR_BRIDGES.includes(n));
    for (const l of veths.length ? veths : left) {
      await run('ip', ['link', 'del', 'dev', l], { timeoutMs: IP_TIMEOUT, reject: false });
    }
    if (Date.now() > deadline) {
      throw new TestbedError('TIMEOUT', `links ${left.join(', ')} could not be deleted; try \`ip link del <name>\` by hand`);
    }
  }
  log('removed namespaces, bridges and veths');

  // 5. what we created outside our directories, then our run directory
  await undoHostPaths(paths, log);
  fs.rmSync(paths.runDir, { recursive: true, force: true });
}
