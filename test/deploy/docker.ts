import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { execa, type Options } from 'execa';
import { sleep, waitFor } from '@tandem/util';

/** Debian's docker client (the docker.io package), whatever else is first on the PATH. */
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function run(cmd: string, args: readonly string[], opts: Options = {}): Promise<RunResult> {
  const r = await execa(cmd, args, { reject: false, timeout: 600_000, ...opts });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

export async function mustRun(cmd: string, args: readonly string[], opts: Options = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (exit ${r.code}):\n${r.stderr.slice(-3000)}${r.stdout.slice(-2000)}`);
  return r;
}

/**
 * A private Docker daemon: its own data root, exec root, socket and pid file, no iptables, no
 * bridge (every container here runs with host networking), started inside the namespaces
 * `nsenter` names (none: the machine's own). Stopped and its directories removed by `stop`.
 */
export class PrivateDockerd {
  readonly socket: string;
  readonly host: string;
  private readonly pidFile: string;
  private readonly execRoot: string;
  readonly logFile: string;

  constructor(
    readonly name: string,
    readonly dataRoot: string,
    runDir: string,
    private readonly nsenter: readonly string[] = [],
  ) {
    this.socket = join(runDir, `${name}.sock`);
    this.host = `unix://${this.socket}`;
    this.pidFile = join(runDir, `${name}.pid`);
    this.execRoot = join(runDir, name);
    this.logFile = join(dataRoot, '..', `dockerd-${name}.log`);
  }

  async start(): Promise<void> {
    mkdirSync(this.dataRoot, { recursive: true });
    mkdirSync(this.execRoot, { recursive: true });
    const args = [
      'dockerd',
      '--data-root',
      this.dataRoot,
      '--exec-root',
      this.execRoot,
      '--host',
      this.host,
      '--pidfile',
      this.pidFile,
      '--iptables=false',
      '--ip-masq=false',
      '--bridge=none',
      // its containers' cgroups apart from any other daemon's
      `--cgroup-parent=tandem-deploy-${this.name}`,
    ];
    const argv = this.nsenter.length ? ['nsenter', ...this.nsenter, '--', ...args] : args;
    const out = openSync(this.logFile, 'a');
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    child.unref();
    let exited: number | null | undefined;
    child.on('exit', (code) => {
      exited = code;
    });
    await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(`dockerd ${this.name} exited (${exited}): ${this.logTail()}`);
        return (await run(DOCKER, ['version', '--format', '{{.Server.Version}}'], { env: { DOCKER_HOST: this.host }, timeout: 5_000 })).code === 0;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `dockerd ${this.name} answering on ${this.socket}` },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.logTail()}`);
    });
  }

  logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }

  docker(args: readonly string[], opts: Options = {}): Promise<RunResult> {
    return run(DOCKER, args, { ...opts, env: { ...process.env, ...opts.env, DOCKER_HOST: this.host } });
  }

  pid(): number | null {
    try {
      const pid = Number(readFileSync(this.pidFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  /** Every container removed, the daemon stopped (SIGTERM, then SIGKILL after 20 s), its directories removed. */
  async stop(): Promise<void> {
    const pid = this.pid();
    if (pid !== null && alive(pid)) {
      const ids = (await this.docker(['ps', '-aq'], { timeout: 15_000 })).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.docker(['rm', '-f', '-v', ...ids], { timeout: 60_000 });
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 200 && alive(pid); i++) await sleep(100);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
    }
    // what the daemon leaves mounted in this mount namespace (its default network namespace's bind mount)
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(`${this.execRoot}/`) || m.startsWith(`${this.dataRoot}/`))
      .sort((x, y) => y.length - x.length);
    for (const m of mounts) await run('umount', ['-l', m], { timeout: 10_000 });
    rmSync(this.dataRoot, { recursive: true, force: true });
    rmSync(this.execRoot, { recursive: true, force: true });
    rmSync(this.socket, { force: true });
    rmSync(this.pidFile, { force: true });
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
