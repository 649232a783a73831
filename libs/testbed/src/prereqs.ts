import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestbedError } from './errors';

/** Commands the testbed needs, and the Debian package that provides each. */
const FULL: ReadonlyArray<[command: string, pkg: string]> = [
  ['zfs-fuse', 'zfs-fuse'],
  ['zpool', 'zfs-fuse'],
  ['zfs', 'zfs-fuse'],
  ['ip', 'iproute2'],
  ['nsenter', 'util-linux'],
  ['unshare', 'util-linux'],
  ['runuser', 'util-linux'],
  ['mount', 'mount'],
  ['umount', 'mount'],
  ['cp', 'coreutils'],
  ['tee', 'coreutils'],
  ['nats-server', 'nats-server'],
  ['smbd', 'samba'],
  ['tgtd', 'tgt'],
  ['tgtadm', 'tgt'],
  ['arping', 'iputils-arping'],
];

const MINIMAL: ReadonlyArray<[command: string, pkg: string]> = [
  ['ip', 'iproute2'],
  ['nsenter', 'util-linux'],
  ['umount', 'mount'],
];

/** For the Pacemaker peer (`up --pacemaker`). */
const PACEMAKER: ReadonlyArray<[command: string, pkg: string]> = [
  ['corosync', 'corosync'],
  ['pacemakerd', 'pacemaker'],
  ['cibadmin', 'pacemaker-cli-utils'],
  ['crm', 'crmsh'],
  ['/usr/lib/ocf/resource.d/heartbeat/ZFS', 'resource-agents'],
];

/** For `diskFail`: the system calls of a node's ZFS daemon are made to fail under ptrace. */
const DISK_FAULT: ReadonlyArray<[command: string, pkg: string]> = [['strace', 'strace']];

const PG_BINARIES = ['postgres', 'initdb', 'pg_isready'];

export function which(command: string): string | null {
  const dirs = (process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin']);
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, command);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Newest /usr/lib/postgresql/<ver>/bin that has every binary we need, or null. */
export function findPgBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = fs.readdirSync(base);
  } catch {
    return null;
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  for (const v of versions) {
    const bin = path.join(base, v, 'bin');
    if (PG_BINARIES.every((b) => fs.existsSync(path.join(bin, b)))) return bin;
  }
  return null;
}

export function checkPrereqs(level: 'full' | 'minimal' | 'disk-fault' | 'pacemaker'): void {
  if (process.platform !== 'linux') {
    throw new TestbedError('MISSING_PREREQS', 'the testbed needs Linux (network and mount namespaces)');
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new TestbedError('NOT_ROOT', 'the testbed must run as root (it creates namespaces, bridges and mounts); re-run with sudo');
  }
  const missing: Array<[string, string]> = [];
  for (const [cmd, pkg] of level === 'full' ? FULL : level === 'disk-fault' ? DISK_FAULT : level === 'pacemaker' ? PACEMAKER : MINIMAL) {
    if (cmd.startsWith('/') ? !fs.existsSync(cmd) : !which(cmd)) missing.push([cmd, pkg]);
  }
  if (level === 'full' && !findPgBinDir()) {
    missing.push([`/usr/lib/postgresql/*/bin/{${PG_BINARIES.join(',')}}`, 'postgresql']);
  }
  if (level === 'full' && !fs.existsSync('/dev/fuse')) {
    missing.push(['/dev/fuse', 'fuse3 (and the fuse kernel module: modprobe fuse)']);
  }
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, p]) => p.split(' ')[0]!))];
    throw new TestbedError('MISSING_PREREQS', `missing: ${missing.map(([c, p]) => `${c} (package ${p})`).join(', ')}; install with: apt-get install ${pkgs.join(' ')}`);
  }
}
