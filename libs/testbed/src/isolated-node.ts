import { execa, type ResultPromise } from 'execa';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, copyFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@tandem/util';

/**
 * One storage node on its own, for integration tests of host-executor: a network namespace
 * (with a client-side peer namespace joined by a veth pair), a private mount namespace with
 * its own zfs-fuse daemon, its own nats-server, and host-executor running inside — all real.
 */
export interface IsolatedNode {
  nodeId: string;
  natsUrl: string;
  deviceDir: string;
  /** The node's own disks (TANDEM_LOCAL_DEVICE_DIR): pools created with `disks: 'local'`. */
  localDeviceDir: string;
  stateDir: string;
  /** Run a command inside the node's namespaces. */
  exec(argv: string[], opts?: { input?: string; reject?: boolean }): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /** Run a command in the peer (client) namespace. */
  peer(argv: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }>;
  /** Restart host-executor (e.g. to check persisted epochs). */
  restartExecutor(): Promise<void>;
  stop(): Promise<void>;
}

const REPO = resolve(__dirname, '..', '..', '..', '..'); // dist/libs/testbed/src → the repository
const run = (argv: string[], reject = true) => execa(argv[0], argv.slice(1), { reject, timeout: 30_000 });

export function tcpOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export async function startIsolatedNode(name: string, opts: { startExecutor?: boolean } = {}): Promise<IsolatedNode> {
  const tag = name.replace(/[^a-z0-9]/g, '').slice(0, 6);
  const netns = `tb-it-${tag}`;
  const peerns = `tb-it-${tag}p`;
  const root = `/tmp/tandem-it-${tag}`;
  const nsDir = `/run/tandem-it-${tag}`;
  const mntFile = join(nsDir, 'mnt');
  const procs: ResultPromise[] = [];
  await cleanup();
  mkdirSync(root, { recursive: true });
  mkdirSync(nsDir, { recursive: true });
  const deviceDir = join(root, 'jbod');
  const stateDir = join(root, 'state');
  const localDeviceDir = join(root, 'disks');
  mkdirSync(deviceDir, { recursive: true });
  mkdirSync(localDeviceDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });

  // network: node ns <-> peer ns (the "client" link, cli0) and node ns <-> root (admin, for NATS)
  await run(['ip', 'netns', 'add', netns]);
  await run(['ip', 'netns', 'add', peerns]);
  await run(['ip', 'link', 'add', `tb-${tag}-c`, 'type', 'veth', 'peer', 'name', `tb-${tag}-cp`]);
  await run(['ip', 'link', 'set', `tb-${tag}-c`, 'netns', netns, 'name', 'cli0']);
  await run(['ip', 'link', 'set', `tb-${tag}-cp`, 'netns', peerns, 'name', 'eth0']);
  await run(['ip', 'link', 'add', `tb-${tag}-a`, 'type', 'veth', 'peer', 'name', `tb-${tag}-ar`]);
  await run(['ip', 'link', 'set', `tb-${tag}-a`, 'netns', netns, 'name', 'adm0']);
  await run(['ip', 'addr', 'add', '10.77.6.1/30', 'dev', `tb-${tag}-ar`]);
  await run(['ip', 'link', 'set', `tb-${tag}-ar`, 'up']);
  for (const [ns, ifs] of [
    [netns, ['lo', 'cli0', 'adm0']],
    [peerns, ['lo', 'eth0']],
  ] as const) {
    for (const i of ifs) await run(['ip', '-n', ns, 'link', 'set', i, 'up']);
  }
  await run(['ip', '-n', netns, 'addr', 'add', '10.77.6.2/30', 'dev', 'adm0']);
  await run(['ip', '-n', netns, 'addr', 'add', '10.77.5.1/24', 'dev', 'cli0']);
  await run(['ip', '-n', peerns, 'addr', 'add', '10.77.5.100/24', 'dev', 'eth0']);

  // mount namespace with private ZFS state
  await run(['mount', '--bind', nsDir, nsDir]);
  await run(['mount', '--make-private', nsDir]);
  writeFileSync(mntFile, '');
  await run(['unshare', `--mount=${mntFile}`, '--propagation', 'private', 'true']);
  for (const d of ['/run/zfs', '/var/lock/zfs', '/var/lib/zfs', '/etc/zfs', '/run/tgtd']) {
    mkdirSync(d, { recursive: true });
    await run(['nsenter', `--mount=${mntFile}`, '--', 'mount', '-t', 'tmpfs', 'tmpfs', d]);
  }
  if (existsSync('/etc/zfs/zfsrc')) copyFileSync('/etc/zfs/zfsrc', join(root, 'zfsrc'));
  await run(['nsenter', `--mount=${mntFile}`, '--', 'cp', join(root, 'zfsrc'), '/etc/zfs/zfsrc'], false);

  const enter = (argv: string[]) => ['nsenter', `--net=/run/netns/${netns}`, `--mount=${mntFile}`, '--', ...argv];
  const spawnLogged = (argv: string[], log: string, env: Record<string, string> = {}) => {
    const file = join(root, log);
    const p: ResultPromise = execa(argv[0], argv.slice(1), {
      stdin: 'ignore',
      stdout: { file, append: true },
      stderr: { file, append: true },
      reject: false,
      env: { ...process.env, ...env },
      cwd: REPO,
    });
    procs.push(p);
    return p;
  };

  spawnLogged(enter(['zfs-fuse', '--no-daemon', '--pidfile', join(root, 'zfs-fuse.pid')]), 'zfs-fuse.log');
  await waitFor(async () => (await run(enter(['zpool', 'list']), false)).exitCode === 0, { timeoutMs: 30_000, intervalMs: 200, what: 'zfs-fuse answering zpool list' });
  spawnLogged(enter(['nats-server', '-a', '0.0.0.0', '-p', '4222', '-js', '-sd', join(root, 'nats'), '--server_name', `it-${tag}`]), 'nats.log');
  const natsUrl = 'nats://10.77.6.2:4222';
  await waitFor(() => tcpOpen('10.77.6.2', 4222), { timeoutMs: 30_000, intervalMs: 200, what: 'nats-server listening on 10.77.6.2:4222' });

  const nodeId = `it-${tag}`;
  let executor: ResultPromise | undefined;
  const startExecutor = async () => {
    executor = spawnLogged(enter(['node', '-r', join(REPO, 'tools/register.js'), join(REPO, 'dist/apps/host-executor/src/main.js')]), 'host-executor.log', {
      TANDEM_NODE_ID: nodeId,
      TANDEM_NATS_URL: 'nats://127.0.0.1:4222',
      TANDEM_STATE_DIR: stateDir,
      TANDEM_DEVICE_DIR: deviceDir,
      TANDEM_LOCAL_DEVICE_DIR: localDeviceDir,
      TANDEM_HEALTH_PORT: '9101',
      TANDEM_CLUSTER_ID: 'it',
      TANDEM_ENABLE_TEST_OPS: '1',
      NO_COLOR: '1',
    });
    await waitFor(async () => (await fetch('http://10.77.6.2:9101/health/ready')).status === 200, { timeoutMs: 60_000, intervalMs: 200, what: 'host-executor ready' }).catch((err) => {
      throw new Error(`${(err as Error).message}\n${readFileSync(join(root, 'host-executor.log'), 'utf8').slice(-3000)}`);
    });
  };
  if (opts.startExecutor !== false) await startExecutor();

  async function cleanup(): Promise<void> {
    for (const ns of [`tb-it-${tag}`, `tb-it-${tag}p`]) {
      const pids = (await run(['ip', 'netns', 'pids', ns], false)).stdout.split('\n').filter(Boolean);
      for (const pid of pids) await run(['kill', '-9', pid], false);
      await run(['ip', 'netns', 'del', ns], false);
    }
    await run(['ip', 'link', 'del', `tb-${tag}-ar`], false);
    await run(['umount', '-l', `/run/tandem-it-${tag}/mnt`], false);
    await run(['umount', '-l', `/run/tandem-it-${tag}`], false);
    rmSync(`/run/tandem-it-${tag}`, { recursive: true, force: true });
    if (!process.env.TANDEM_KEEP_TEST_LOGS) rmSync(`/tmp/tandem-it-${tag}`, { recursive: true, force: true });
  }

  return {
    nodeId,
    natsUrl,
    deviceDir,
    localDeviceDir,
    stateDir,
    async exec(argv, o = {}) {
      const r = await execa(enter(argv)[0], enter(argv).slice(1), { input: o.input, reject: false, timeout: 30_000 });
      if (o.reject && r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr}`);
      return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
    },
    async peer(argv) {
      const r = await execa('ip', ['netns', 'exec', peerns, ...argv], { reject: false, timeout: 30_000 });
      return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
    },
    async restartExecutor() {
      executor?.kill('SIGTERM');
      await executor;
      await startExecutor();
    },
    async stop() {
      executor?.kill('SIGTERM');
      await Promise.race([executor, sleep(10_000)]);
      for (const p of procs) p.kill('SIGKILL');
      await Promise.allSettled(procs);
      await cleanup();
    },
  };
}
