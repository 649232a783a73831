import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestbedError } from './errors';
import { NodeSpec, PG_PORT, Paths } from './layout';
import { killNamedInNetns, nsenterArgs } from './namespaces';
import { findPgBinDir } from './prereqs';
import { run, spawnDaemon, waitFor } from './proc';
import { daemonExit } from './zfs-daemon';

const READY_TIMEOUT_MS = 30_000;

interface PgUser {
  uid: number;
  gid: number;
}

export function pgBinDir(): string {
  const dir = findPgBinDir();
  if (!dir) throw new TestbedError('MISSING_PREREQS', 'no /usr/lib/postgresql/*/bin/postgres; apt-get install postgresql');
  return dir;
}

function postgresUser(): PgUser {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const f = line?.split(':');
  if (!f || f.length < 4) {
    throw new TestbedError('MISSING_PREREQS', 'there is no `postgres` user; apt-get install postgresql creates it');
  }
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** The postgres user must be able to walk down to `dir`: every ancestor needs o+x (we are root, it is not). */
function checkTraversable(dir: string): void {
  let p = path.dirname(path.resolve(dir));
  for (;;) {
    const st = fs.statSync(p);
    if ((st.mode & 0o001) === 0) {
      throw new TestbedError(
        'PERMISSIONS',
        `the postgres user cannot traverse ${p} (mode ${(st.mode & 0o777).toString(8)}); chmod o+x ${p} or set TANDEM_TESTBED_DIR to a directory under /var/lib or /tmp`,
      );
    }
    const parent = path.dirname(p);
    if (parent === p) return;
    p = parent;
  }
}

function chownR(p: string, u: PgUser): void {
  fs.chownSync(p, u.uid, u.gid);
}

/**
 * initdb once into <root>/pg-template with a `tandem` database; every storage node gets a copy.
 * The database is created in single-user mode, so no server (and no socket) is ever started
 * in the root namespace, where the machine's own Postgres listens.
 */
export async function ensurePgTemplate(paths: Paths, log: (l: string) => void): Promise<void> {
  if (fs.existsSync(paths.pgTemplateReady) && fs.existsSync(path.join(paths.pgTemplate, 'PG_VERSION'))) return;
  const t0 = Date.now();
  const bin = pgBinDir();
  const user = postgresUser();
  checkTraversable(paths.pgTemplate);
  fs.rmSync(paths.pgTemplate, { recursive: true, force: true });
  fs.mkdirSync(paths.pgTemplate, { mode: 0o700 });
  chownR(paths.pgTemplate, user);
  const env = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', LANG: 'C' };
  await run('runuser', ['-u', 'postgres', '--', path.join(bin, 'initdb'), '-D', paths.pgTemplate, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], {
    timeoutMs: 120_000,
    env,
    extendEnv: false,
    cwd: '/',
  });
  const single = await run('runuser', ['-u', 'postgres', '--', path.join(bin, 'postgres'), '--single', '-D', paths.pgTemplate, '-c', 'fsync=off', 'postgres'], {
    timeoutMs: 60_000,
    env,
    extendEnv: false,
    cwd: '/',
    input: 'CREATE DATABASE tandem;\n',
  });
  if (/ERROR:/.test(single.stderr) || /ERROR:/.test(single.stdout)) {
    throw new TestbedError('COMMAND_FAILED', `CREATE DATABASE tandem failed in the Postgres template: ${single.stderr || single.stdout}`);
  }
  fs.writeFileSync(paths.pgTemplateReady, `${new Date().toISOString()}\n`);
  log(`postgres template ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

export async function pgReady(paths: Paths, spec: NodeSpec): Promise<boolean> {
  const res = await run('nsenter', [...nsenterArgs(paths, spec), path.join(pgBinDir(), 'pg_isready'), '-q', '-h', '127.0.0.1', '-p', String(PG_PORT), '-t', '2'], { timeoutMs: 5_000, reject: false });
  return res.exitCode === 0;
}

/** Starts the node's own Postgres if it does not answer; returns false when it was already up. */
export async function ensurePostgres(paths: Paths, spec: NodeSpec, env: Record<string, string>): Promise<boolean> {
  if (await pgReady(paths, spec)) return false;
  const user = postgresUser();
  const data = paths.pgData(spec.name);
  if (!fs.existsSync(path.join(data, 'PG_VERSION'))) {
    // first boot of this node: copy the template (the node's persistent "disk" from now on)
    fs.rmSync(data, { recursive: true, force: true });
    await run('cp', ['-a', paths.pgTemplate, data], { timeoutMs: 60_000 });
  }
  checkTraversable(data);
  await killNamedInNetns(spec.netns, ['postgres', 'runuser']);
  // after a power cut the pid file is stale; nothing of this node runs any more
  fs.rmSync(path.join(data, 'postmaster.pid'), { force: true });
  const sock = paths.pgSocketDir(spec.name);
  fs.rmSync(sock, { recursive: true, force: true });
  fs.mkdirSync(sock, { recursive: true, mode: 0o755 });
  chownR(sock, user);
  const logFile = paths.logFile(spec.name, 'postgres');
  const bin = pgBinDir();
  const d = spawnDaemon(
    'nsenter',
    [
      ...nsenterArgs(paths, spec),
      'runuser',
      '-u',
      'postgres',
      '--',
      path.join(bin, 'postgres'),
      '-D',
      data,
      '-k',
      sock,
      '-p',
      String(PG_PORT),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'shared_buffers=32MB',
      '-c',
      'max_connections=100',
    ],
    { logFile, env: { ...env, LC_ALL: 'C', LANG: 'C' }, cwd: '/' },
  );
  await waitFor(`${spec.name}: postgres`, () => pgReady(paths, spec), {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 150,
    abort: daemonExit(d, `${spec.name}: postgres`, logFile),
    hint: `see ${logFile}`,
  });
  return true;
}
