import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { renderSmbConf, smbDirs } from '@tandem/shares';
import { TestbedError } from './errors';
import { NodeSpec, Paths } from './layout';
import { killNamedInNetns, nsenterArgs, pidInNetns, recordHostPath } from './namespaces';
import { daemonExit } from './zfs-daemon';
import { readPidFile, run, spawnDaemon, waitFor } from './proc';
import { repoRoot } from './services';
import { fenceMetadata } from './fence-agent';

/*
 * The peer Tandem is measured against: the standard Linux HA stack (corosync 3 + Pacemaker 2.1,
 * Debian's packages) on the same storage node namespaces, configured as a newcomer following the
 * ClusterLabs documentation (or `pcs cluster setup` for two nodes) would: knet, crypto on, totem
 * token left at its default 3000 ms, two_node (with its implied wait_for_all), fencing on.
 * Deviations, each for the testbed's sake and none changing a timing:
 *   - logging: to files in the node's testbed log directory, no syslog (there is none in a
 *     namespace), corosync timestamps `hires` (milliseconds, for the benchmark's phase split);
 *   - every node's corosync and Pacemaker state on private tmpfs in its mount namespace (like a
 *     machine of its own), so that a power-off loses it as a real one would its /run;
 *   - fencing through `fence_tandem_testbed`, which powers the node off with the testbed
 *     (what fence_ipmilan does to a real node's power supply).
 */

const READY_TIMEOUT_MS = 60_000;

/** Pacemaker's fence agent for testbed nodes (`stonith:fence_tandem_testbed`), found in /usr/sbin like every fence_* agent. */
export const FENCE_AGENT = 'fence_tandem_testbed';

/** Directories corosync, Pacemaker and the resource agents keep their state, logs, IPC and runtime files in: private tmpfs per node. */
export const PACEMAKER_PRIVATE_DIRS: ReadonlyArray<{ dir: string; owner?: string; mode: string }> = [
  { dir: '/etc/corosync', mode: '0755' },
  { dir: '/var/lib/corosync', mode: '0755' },
  { dir: '/var/lib/pacemaker', owner: 'hacluster:haclient', mode: '0755' },
  { dir: '/var/log/pacemaker', owner: 'hacluster:haclient', mode: '0770' },
  { dir: '/var/log/cluster', mode: '0755' },
  // libqb's ring buffers are named after the server (cib_rw, crmd, ...): two nodes' daemons would share them
  { dir: '/dev/shm', mode: '1777' },
  { dir: '/run/crm', owner: 'hacluster:haclient', mode: '0750' },
  // HA_VARRUN: the resource agents' pid and state files
  { dir: '/run/resource-agents', mode: '0755' },
];
const PACEMAKER_STATE_SUBDIRS = ['cib', 'pengine', 'blackbox', 'cores'];
/** corosync's lock file; corosync has no option to move it: a per-node file is bind-mounted over it. */
const COROSYNC_LOCK = '/run/corosync.pid';

/** The daemons of the stack (their /proc comm), killed before a fresh start. */
const DAEMONS = ['corosync', 'pacemakerd', 'pacemaker-based', 'pacemaker-fenced', 'pacemaker-execd', 'pacemaker-attrd', 'pacemaker-schedulerd', 'pacemaker-controld'];

export interface CorosyncNode {
  name: string;
  nodeid: number;
  /** ring0: the node's heartbeat address. */
  address: string;
}

/**
 * corosync.conf of the peer, as `pcs cluster setup` writes it for two nodes on knet (crypto
 * aes256/sha256, two_node), token at its default (3000 ms; not written, as pcs does not).
 */
export function renderCorosyncConf(clusterName: string, nodes: readonly CorosyncNode[], logFile: string): string {
  if (nodes.length < 2) throw new TestbedError('USAGE', `a corosync cluster needs at least two nodes (got ${nodes.length})`);
  const lines = ['totem {', '    version: 2', `    cluster_name: ${clusterName}`, '    transport: knet', '    crypto_cipher: aes256', '    crypto_hash: sha256', '}', '', 'nodelist {'];
  for (const n of nodes) {
    lines.push('    node {', `        ring0_addr: ${n.address}`, `        name: ${n.name}`, `        nodeid: ${n.nodeid}`, '    }');
  }
  lines.push('}', '', 'quorum {', '    provider: corosync_votequorum');
  if (nodes.length === 2) lines.push('    two_node: 1');
  lines.push('}', '', 'logging {', '    to_logfile: yes', `    logfile: ${logFile}`, '    to_syslog: no', '    to_stderr: no', '    timestamp: hires', '}');
  return `${lines.join('\n')}\n`;
}

export interface PeerPoolConfig {
  pool: string;
  /** Where the shared JBOD's vdev files are (`zpool import -d`). */
  deviceDir: string;
  vip: string;
  prefixLength: number;
  /** Interface the floating IP goes on (the client network's). */
  nic: string;
  /** smb.conf of the pool's smbd (absent: no SMB share resource). */
  smbConf?: string;
}

/** The directories of the peer's smbd on each node (on its private tmpfs, made at every boot). */
export const PEER_SMB_BASE = '/run/resource-agents/smb';

/**
 * smb.conf of the peer's smbd for one pool: the very configuration Tandem's host-executor writes
 * (bound to the floating IP only, guests, every write synced), with the same directories on
 * every node (each node's own tmpfs).
 */
export function renderPeerSmbConf(pool: string, vip: string, share: { name: string; path: string }): string {
  return renderSmbConf({ pool, protocol: 'smb', addresses: [vip], shares: [{ name: share.name, path: share.path, readOnly: false }] }, smbDirs(PEER_SMB_BASE));
}

/** Name of the peer's resource group for a pool. */
export const peerGroup = (pool: string) => `g-${pool}`;

/**
 * The Pacemaker configuration (crm shell syntax) of one HA pool: the fencing device, the pool
 * (`ocf:heartbeat:ZFS`), its floating IP (`ocf:heartbeat:IPaddr2`) and, if asked, its smbd
 * (`ocf:heartbeat:anything`), grouped: started in that order on one node, stopped in reverse.
 * Operations as each agent advertises them (what pcs puts in); resource-stickiness 1 as pcs sets
 * for a new cluster. stonith-action=off: the benchmark powers the node on again itself, as in
 * Tandem's trials (a reboot would race it).
 */
export function renderPeerPoolConfig(nodes: readonly string[], cfg: PeerPoolConfig): string {
  const g = peerGroup(cfg.pool);
  const lines = [
    'property cib-bootstrap-options: stonith-enabled=true stonith-action=off',
    'rsc_defaults rsc-options: resource-stickiness=1',
    `primitive fence-testbed stonith:${FENCE_AGENT} params pcmk_host_list="${nodes.join(' ')}" op monitor interval=60s`,
    `primitive p-${cfg.pool}-pool ocf:heartbeat:ZFS params pool=${cfg.pool} importargs="-d ${cfg.deviceDir}" op start timeout=60s interval=0 op stop timeout=60s interval=0 op monitor interval=5s timeout=30s`,
    `primitive p-${cfg.pool}-ip ocf:heartbeat:IPaddr2 params ip=${cfg.vip} cidr_netmask=${cfg.prefixLength} nic=${cfg.nic} op start timeout=20s interval=0 op stop timeout=20s interval=0 op monitor interval=10s timeout=20s`,
  ];
  const members = [`p-${cfg.pool}-pool`, `p-${cfg.pool}-ip`];
  if (cfg.smbConf) {
    lines.push(
      `primitive p-${cfg.pool}-smb ocf:heartbeat:anything params binfile=/usr/sbin/smbd cmdline_options="--foreground --no-process-group --configfile=${cfg.smbConf}" op start timeout=20s interval=0 op stop timeout=20s interval=0 op monitor interval=10s timeout=20s`,
    );
    members.push(`p-${cfg.pool}-smb`);
  }
  lines.push(`group ${g} ${members.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export function corosyncNodes(storage: readonly NodeSpec[]): CorosyncNode[] {
  return storage.map((s) => ({ name: s.name, nodeid: (s.index ?? 0) + 1, address: s.addresses.heartbeat! }));
}

const corosyncPidFile = (paths: Paths, name: string) => path.join(paths.nodeDir(name), 'corosync.pid');
const pacemakerPidFile = (paths: Paths, name: string) => path.join(paths.nodeDir(name), 'pacemakerd.pid');

async function inNode(paths: Paths, spec: NodeSpec, argv: string[], input?: string): Promise<void> {
  await run('nsenter', [...nsenterArgs(paths, spec), ...argv], { timeoutMs: 10_000, ...(input === undefined ? {} : { input }) });
}

async function answers(paths: Paths, spec: NodeSpec, argv: string[]): Promise<boolean> {
  return (await run('nsenter', [...nsenterArgs(paths, spec), ...argv], { timeoutMs: 5_000, reject: false })).exitCode === 0;
}

/**
 * The fence agent: a wrapper in the node's /usr/sbin that answers `metadata` itself (the
 * controller asks for it as hacluster, often, and blocks on it) and runs the agent for every
 * other action with the testbed's root namespaces named (the agent enters them through any
 * process living there; the fencer runs it as root).
 */
export function fenceAgentScript(paths: Paths): string {
  const repo = repoRoot();
  return [
    '#!/bin/sh',
    '# Fence agent of the Tandem testbed: powers testbed nodes off and on (see libs/testbed/src/fence-agent.ts).',
    'input=',
    '[ $# -eq 0 ] && input=$(cat)',
    "case \" $* $(printf '%s' \"$input\" | tr '\\n' ' ') \" in",
    "  *' action=metadata '* | *' -o metadata '* | *' --action=metadata '* | *' --action metadata '*)",
    "    cat <<'EOF'",
    fenceMetadata().trimEnd(),
    'EOF',
    '    exit 0',
    '    ;;',
    'esac',
    `printf '%s\\n' "$input" | exec env ${shellWord(`TANDEM_TESTBED_DIR=${paths.root}`)} ${shellWord(`${ROOT_NS_ENV}=${rootNamespaces()}`)} ${shellWord(process.execPath)} ${shellWord(path.join(repo, 'bin', 'fence-testbed'))} "$@"`,
    '',
  ].join('\n');
}

/** One word for sh, whatever it holds (single-quoted). */
const shellWord = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Names the testbed's own network and mount namespaces for the fence agent. */
export const ROOT_NS_ENV = 'TANDEM_TESTBED_ROOT_NS';

/** `net:[inode],mnt:[inode]` of this process's namespaces. */
export function rootNamespaces(pid: number | 'self' = 'self'): string {
  return ['net', 'mnt'].map((ns) => fs.readlinkSync(`/proc/${pid}/ns/${ns}`)).join(',');
}

/** The node's mount namespace gets its private directories, corosync's lock file and the fence agent (an overlay on /usr/sbin). */
async function preparePacemakerMounts(paths: Paths, spec: NodeSpec): Promise<void> {
  const file = paths.mountNsFile(spec.name);
  const inside = await run('nsenter', [`--mount=${file}`, '--', 'cat', '/proc/self/mounts'], { timeoutMs: 10_000 });
  const mounted = new Set(inside.stdout.split('\n').map((l) => l.split(' ')[1]));
  for (const d of PACEMAKER_PRIVATE_DIRS) {
    if (!fs.existsSync(d.dir)) {
      fs.mkdirSync(d.dir, { recursive: true, mode: 0o755 });
      recordHostPath(paths, { path: d.dir, kind: 'dir', existed: false });
    }
    if (mounted.has(d.dir)) continue;
    await inNode(paths, spec, ['mount', '-t', 'tmpfs', '-o', `mode=${d.mode},size=64m`, `tb-${spec.name}-pcmk`, d.dir]);
    if (d.owner) await inNode(paths, spec, ['chown', d.owner, d.dir]);
  }
  const smb = smbDirs(PEER_SMB_BASE);
  for (const dir of [smb.base, smb.pid, smb.lock, smb.state, smb.cache, smb.ncalrpc]) await inNode(paths, spec, ['install', '-d', '-m', '0755', dir]);
  await inNode(paths, spec, ['install', '-d', '-m', '0700', smb.private]);
  for (const sub of PACEMAKER_STATE_SUBDIRS) {
    await inNode(paths, spec, ['install', '-d', '-o', 'hacluster', '-g', 'haclient', '-m', '0750', path.join('/var/lib/pacemaker', sub)]);
  }
  if (!mounted.has(COROSYNC_LOCK)) {
    if (!fs.existsSync(COROSYNC_LOCK)) {
      fs.writeFileSync(COROSYNC_LOCK, '');
      recordHostPath(paths, { path: COROSYNC_LOCK, kind: 'file', existed: false });
    }
    const own = path.join(paths.nodeDir(spec.name), 'corosync.lock');
    fs.writeFileSync(own, '');
    await inNode(paths, spec, ['mount', '--bind', own, COROSYNC_LOCK]);
  }
  if (!mounted.has('/usr/sbin')) {
    const upper = path.join(paths.sbinOverlay(spec.name), 'upper');
    const work = path.join(paths.sbinOverlay(spec.name), 'work');
    fs.rmSync(paths.sbinOverlay(spec.name), { recursive: true, force: true });
    fs.mkdirSync(upper, { recursive: true, mode: 0o755 });
    fs.mkdirSync(work, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(upper, FENCE_AGENT), fenceAgentScript(paths), { mode: 0o755 });
    await inNode(paths, spec, ['mount', '-t', 'overlay', `tb-${spec.name}-sbin`, '-o', `lowerdir=/usr/sbin,upperdir=${upper},workdir=${work}`, '/usr/sbin']);
  }
}

/** The cluster's authkey file (one per testbed, 256 random bytes as corosync-keygen makes). */
function authkeyFile(paths: Paths): string {
  const file = path.join(paths.pacemakerDir, 'authkey');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(paths.pacemakerDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, randomBytes(256), { mode: 0o400 });
  }
  return file;
}

/** Makes a log file the Pacemaker daemons (some running as hacluster) can append to. */
async function pacemakerLogFile(file: string): Promise<void> {
  if (!fs.existsSync(file)) fs.writeFileSync(file, '', { mode: 0o660 });
  await run('chown', ['hacluster:haclient', file], { timeoutMs: 5_000 });
}

/**
 * Starts corosync and Pacemaker (both in the foreground, inside the node's namespaces, so a
 * power-off kills them) on a storage node of the peer cluster. Returns false when both were
 * running already.
 */
export async function ensurePacemaker(paths: Paths, spec: NodeSpec, storage: readonly NodeSpec[], env: Record<string, string>): Promise<boolean> {
  const running = (file: string) => {
    const pid = readPidFile(file);
    return pid !== null && pidInNetns(pid, spec);
  };
  if (running(corosyncPidFile(paths, spec.name)) && running(pacemakerPidFile(paths, spec.name))) return false;
  await killNamedInNetns(spec.netns, DAEMONS);
  await preparePacemakerMounts(paths, spec);

  const corosyncLog = paths.logFile(spec.name, 'corosync');
  await inNode(paths, spec, ['tee', '/etc/corosync/corosync.conf'], renderCorosyncConf('tandem-peer', corosyncNodes(storage), corosyncLog));
  await inNode(paths, spec, ['install', '-m', '0400', authkeyFile(paths), '/etc/corosync/authkey']);

  const corosync = spawnDaemon('nsenter', [...nsenterArgs(paths, spec), 'corosync', '-f'], { logFile: paths.logFile(spec.name, 'corosync-stdout'), env });
  fs.writeFileSync(corosyncPidFile(paths, spec.name), `${corosync.pid}\n`);
  await waitFor(`${spec.name}: corosync`, () => answers(paths, spec, ['corosync-cfgtool', '-s']), {
    timeoutMs: READY_TIMEOUT_MS,
    abort: daemonExit(corosync, `${spec.name}: corosync`, corosyncLog),
    hint: `see ${corosyncLog}`,
  });

  const pacemakerLog = paths.logFile(spec.name, 'pacemaker');
  await pacemakerLogFile(pacemakerLog);
  const pacemakerd = spawnDaemon('nsenter', [...nsenterArgs(paths, spec), 'pacemakerd', '-f'], {
    logFile: paths.logFile(spec.name, 'pacemakerd-stdout'),
    env: { ...env, PCMK_logfile: pacemakerLog, PCMK_logfacility: 'none' },
  });
  fs.writeFileSync(pacemakerPidFile(paths, spec.name), `${pacemakerd.pid}\n`);
  await waitFor(`${spec.name}: pacemaker`, () => answers(paths, spec, ['cibadmin', '--query', '--scope', 'nodes']), {
    timeoutMs: READY_TIMEOUT_MS,
    abort: daemonExit(pacemakerd, `${spec.name}: pacemakerd`, pacemakerLog),
    hint: `see ${pacemakerLog}`,
  });
  return true;
}
