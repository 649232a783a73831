import * as fs from 'node:fs';
import { TestbedError } from './errors';
import { NodeSpec, Paths } from './layout';
import { killNamedInNetns, nsenterArgs } from './namespaces';
import { Daemon, run, spawnDaemon, tail, waitFor } from './proc';

const READY_TIMEOUT_MS = 30_000;

export function daemonExit(d: Daemon, what: string, logFile: string): Promise<never> {
  return d.exited.then((code) => {
    throw new TestbedError('DAEMON_EXITED', `${what} exited (${code === null ? 'killed by a signal' : `exit ${code}`}) before it was ready; log ${logFile}:\n${tail(logFile)}`);
  });
}

export async function zpoolAnswers(paths: Paths, spec: NodeSpec): Promise<boolean> {
  const res = await run('nsenter', [...nsenterArgs(paths, spec), 'zpool', 'list', '-H'], {
    timeoutMs: 5_000,
    reject: false,
  });
  return res.exitCode === 0;
}

/**
 * Makes sure a zfs-fuse daemon answers inside the storage node's namespaces. Returns false when
 * it was already running (nothing done).
 */
export async function ensureZfsDaemon(paths: Paths, spec: NodeSpec, env: Record<string, string>): Promise<boolean> {
  if (await zpoolAnswers(paths, spec)) return false;
  // a hung or half-started daemon holds the lock in /var/lock/zfs: clear it out first
  await killNamedInNetns(spec.netns, ['zfs-fuse']);
  const logFile = paths.logFile(spec.name, 'zfs-fuse');
  const d = spawnDaemon('nsenter', [...nsenterArgs(paths, spec), 'zfs-fuse', '--no-daemon', '--no-kstat-mount', '--pidfile', paths.zfsPid(spec.name)], { logFile, env });
  // zfs-fuse only writes --pidfile when it daemonizes itself; nsenter execs it, so the pid is ours
  fs.writeFileSync(paths.zfsPid(spec.name), `${d.pid}\n`);
  await waitFor(`${spec.name}: zfs-fuse`, () => zpoolAnswers(paths, spec), {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 100,
    abort: daemonExit(d, `${spec.name}: zfs-fuse`, logFile),
    hint: `see ${logFile}`,
  });
  return true;
}
