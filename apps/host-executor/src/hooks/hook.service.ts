import { Inject, Injectable, Logger } from '@nestjs/common';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describeHookRun, type HookRun, type HostOpParsed, type HostOpResults } from '@tandem/contracts';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { inSpan } from '@tandem/telemetry';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from '../host-executor.config';
import { OutputTail, hookArgv, hookDirs, hookEnv, hookOrder } from './hook-plan';

/** After a hook's own process exited, how long what it printed may still take to arrive (a child it left may hold the pipe). */
const DRAIN_MS = 200;

/**
 * Runs the operator's hooks of one point of a pool's start or stop on this node (see
 * libs/contracts hooks.ts for where they live and their order). Each runs with argv only (no
 * shell), in a process group of its own, with only Tandem's variables in its environment; the
 * whole point has one time budget, and a hook still running at its end is killed with its whole
 * process group (SIGKILL). At `pre-start` the first failure stops the rest (the pool will not start
 * here); at the other points every hook runs.
 */
@Injectable()
export class HookService {
  private readonly logger = new Logger('hooks');

  constructor(
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: Pick<HostExecutorConfig, 'hooksDir'>,
    @Inject(SERVICE_CONTEXT) private readonly ctx: Pick<ServiceContext, 'config'>,
  ) {}

  async run(req: HostOpParsed<'hook.run'>): Promise<HostOpResults['hook.run']> {
    const dirs = hookDirs(this.cfg.hooksDir, req.pool, req.point);
    const [common, own] = await Promise.all([listDir(dirs.common), listDir(dirs.own)]);
    const order = hookOrder(req.point, common, own);
    const deadline = performance.now() + req.timeoutMs;
    const runs: HookRun[] = [];
    let failed = false;
    for (const h of order) {
      const path = join(h.from === 'common' ? dirs.common : dirs.own, h.name);
      let refused = await this.refusal(path);
      if (refused === 'skip') continue;
      // the point's time is used up (a hook before this one was killed at it): the rest are not started
      if (refused === null && performance.now() >= deadline) refused = notRun(path, `not run: the ${req.timeoutMs} ms of the ${req.point} hooks were used up by the ones before it`);
      const r = refused ?? (await inSpan(`hook ${req.point}`, { 'tandem.pool': req.pool, 'tandem.hook': path }, () => this.runOne(path, req, deadline)));
      runs.push(r);
      this.logger.log(`${req.point} ${req.pool}: ${describeHookRun(this.ctx.config.nodeId, r).summary}`);
      if (r.exitCode !== 0) {
        failed = true;
        if (req.point === 'pre-start') break;
      }
    }
    return { runs, failed };
  }

  /**
   * A file that is not a hook is skipped (a directory, not executable); one that anyone but its
   * owner may change is refused, not run: the host-executor runs hooks as root.
   */
  private async refusal(path: string): Promise<HookRun | 'skip' | null> {
    const st = await stat(path).catch(() => null);
    if (!st || !st.isFile() || (st.mode & 0o111) === 0) return 'skip';
    const uid = process.getuid?.() ?? 0;
    if ((st.mode & 0o022) !== 0 || (st.uid !== 0 && st.uid !== uid))
      return notRun(path, `not run: ${path} may be changed by others than root (owner uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}); make it root's and chmod go-w`);
    return null;
  }

  private async runOne(path: string, req: HostOpParsed<'hook.run'>, deadline: number): Promise<HookRun> {
    const started = performance.now();
    const tail = new OutputTail();
    const argv = hookArgv(path, req);
    const child = execa(argv[0], argv.slice(1), {
      env: hookEnv(req, this.ctx.config.nodeId, path),
      extendEnv: false,
      shell: false,
      // its own process group: at the timeout the hook and everything it started are killed together
      detached: true,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      cwd: '/',
    });
    child.stdout?.on('data', (d: Buffer) => tail.push(d));
    child.stderr?.on('data', (d: Buffer) => tail.push(d));
    // execa's own promise also waits for the pipes, which a child the hook left running may hold open
    const settled = child.catch(() => undefined);
    let timedOut = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    const left = Math.max(0, deadline - performance.now());
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, left);
    const { code, signal } = await exited;
    clearTimeout(timer);
    await Promise.race([settled, new Promise((r) => setTimeout(r, DRAIN_MS))]);
    child.stdout?.destroy();
    child.stderr?.destroy();
    if (timedOut) tail.push(`\n(killed with its process group after ${req.timeoutMs} ms, the time all ${req.point} hooks of a pool have together)\n`);
    return { hook: path, exitCode: timedOut ? null : code, signal: signal ?? null, timedOut, ms: performance.now() - started, output: tail.last() };
  }
}

function notRun(hook: string, why: string): HookRun {
  return { hook, exitCode: null, signal: null, timedOut: false, ms: 0, output: [why] };
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}
