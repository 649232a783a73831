import type { Dispatcher } from 'undici';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { execa, type Options as ExecaOptions } from 'execa';
import { TestbedError } from './errors';

export interface RunOptions {
  /** Hard limit; the command is killed (SIGTERM, then SIGKILL) when it is exceeded. */
  timeoutMs?: number;
  input?: string;
  /** Throw a TestbedError on non-zero exit (default true). */
  reject?: boolean;
  env?: Record<string, string>;
  /** Merge `env` into the current environment (default true). */
  extendEnv?: boolean;
  cwd?: string;
  /** Strip the final newline of stdout/stderr (default true). */
  stripFinalNewline?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  timedOut: boolean;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export function describeCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** Runs one command (argv only, never through a shell) and collects its output. */
export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const res = await execa(file, [...args], {
    timeout: timeoutMs,
    forceKillAfterDelay: 2_000,
    reject: false,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    ...(opts.input === undefined ? {} : { input: opts.input }),
    env: opts.env,
    extendEnv: opts.extendEnv ?? true,
    cwd: opts.cwd,
    encoding: 'utf8',
    stripFinalNewline: opts.stripFinalNewline ?? true,
  });
  const exitCode = typeof res.exitCode === 'number' ? res.exitCode : res.timedOut ? 124 : 127;
  let stderr = typeof res.stderr === 'string' ? res.stderr : '';
  if (typeof res.exitCode !== 'number') {
    // killed by a signal, timed out or could not be started: say so where callers look
    stderr = `${stderr}${stderr ? '\n' : ''}${res.shortMessage ?? 'command failed'}`;
  }
  const out: RunResult = {
    stdout: typeof res.stdout === 'string' ? res.stdout : '',
    stderr,
    exitCode,
    timedOut: res.timedOut === true,
  };
  if ((opts.reject ?? true) && (exitCode !== 0 || res.failed)) {
    const cmd = describeCommand(file, args);
    if (out.timedOut) {
      throw new TestbedError('TIMEOUT', `\`${cmd}\` did not finish within ${(timeoutMs / 1000).toFixed(0)} s`);
    }
    const detail = (out.stderr || out.stdout || res.shortMessage || '').trim();
    throw new TestbedError('COMMAND_FAILED', `\`${cmd}\` failed (exit ${exitCode})${detail ? `: ${detail}` : ''}`);
  }
  return out;
}

/** Runs a command with the caller's stdio (for `exec`/`client` in the CLI); returns its exit code. */
export async function runInherit(file: string, args: readonly string[], timeoutMs: number): Promise<number> {
  const res = await execa(file, [...args], {
    timeout: timeoutMs,
    forceKillAfterDelay: 2_000,
    reject: false,
    stdio: 'inherit',
  });
  if (typeof res.exitCode === 'number') return res.exitCode;
  if (res.timedOut) return 124;
  if (res.signal) return 128 + signalNumber(res.signal);
  return 127;
}

function signalNumber(sig: string): number {
  const n = os.constants.signals[sig as NodeJS.Signals];
  return typeof n === 'number' ? n : 0;
}

export interface Daemon {
  pid: number;
  /** Resolves when the daemon process exits (with its exit code, or null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * Starts a long-running process in the background: own session (so a Ctrl-C of the CLI does not
 * reach it), stdout and stderr appended to `logFile`, not killed when this process exits.
 */
/**
 * The autogroup of a daemon that leads its own session (spawnDaemon's) to `nice`: on a kernel with
 * autogroups its own nice level counts only inside that session (service-kit's raiseAutogroup).
 * Nothing on a kernel without them; false when the daemon is already gone.
 */
export function raiseDaemonAutogroup(pid: number, nice: number): boolean {
  const file = `/proc/${pid}/autogroup`;
  try {
    if (!fs.existsSync(file)) return false;
    fs.writeFileSync(file, String(nice));
    return true;
  } catch {
    return false;
  }
}

export function spawnDaemon(file: string, args: readonly string[], opts: { logFile: string; env: Record<string, string>; cwd?: string }): Daemon {
  const fd = fs.openSync(opts.logFile, 'a');
  try {
    fs.writeSync(fd, `--- ${new Date().toISOString()} starting: ${describeCommand(file, args)}\n`);
    // An integer fd is handed straight to child_process.spawn, so the daemon writes to the log
    // file itself and does not depend on this process staying alive (execa's types only list 3-9).
    const logFd = fd as unknown as ExecaOptions['stdout'];
    const sub = execa(file, [...args], {
      stdin: 'ignore',
      stdout: logFd,
      stderr: logFd,
      detached: true,
      cleanup: false,
      reject: false,
      buffer: false,
      env: opts.env,
      extendEnv: false,
      cwd: opts.cwd,
    });
    const pid = sub.pid;
    const exited = sub.then(
      (r) => (typeof r.exitCode === 'number' ? r.exitCode : null),
      () => null,
    );
    if (pid === undefined) {
      throw new TestbedError('COMMAND_FAILED', `could not start \`${describeCommand(file, args)}\``);
    }
    sub.unref();
    return { pid, exited };
  } finally {
    fs.closeSync(fd);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Is `pid` a running process? A zombie (killed, not yet reaped by its parent) is not. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The pid tracing every thread of `pid` (their TracerPid); 0 when some thread has none or another, null when it is gone. */
export function tracedBy(pid: number): number | null {
  try {
    const tracers = new Set(fs.readdirSync(`/proc/${pid}/task`).map((tid) => Number(/^TracerPid:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'))?.[1] ?? 0)));
    return tracers.size === 1 ? [...tracers][0]! : 0;
  } catch {
    return null;
  }
}

export function killPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

/** Inode of a namespace file (e.g. /run/netns/x or /proc/<pid>/ns/net), or null. */
export function nsInode(file: string): number | null {
  try {
    return fs.statSync(file).ino;
  } catch {
    return null;
  }
}

export function readPidFile(file: string): number | null {
  try {
    const n = Number.parseInt(fs.readFileSync(file, 'utf8').split('\n')[0]!.trim(), 10);
    return Number.isInteger(n) && n > 1 ? n : null;
  } catch {
    return null;
  }
}

export function processName(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Last `n` lines of a file, for error messages. */
export function tail(file: string, n = 20): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n).join('\n');
  } catch {
    return '(no log file)';
  }
}

/**
 * Polls `probe` until it returns true. Fails with a TIMEOUT error after `timeoutMs`, or early with
 * whatever `abort` rejects with (e.g. the daemon exited).
 */
export async function waitFor(what: string, probe: () => Promise<boolean>, opts: { timeoutMs: number; intervalMs?: number; abort?: Promise<never>; hint?: string }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 100;
  let aborted: unknown;
  let isAborted = false;
  opts.abort?.catch((err: unknown) => {
    aborted = err;
    isAborted = true;
  });
  for (;;) {
    if (isAborted) throw aborted;
    if (await probe().catch(() => false)) return;
    if (isAborted) throw aborted;
    if (Date.now() >= deadline) {
      throw new TestbedError('TIMEOUT', `${what}: not ready after ${(opts.timeoutMs / 1000).toFixed(0)} s${opts.hint ? `; ${opts.hint}` : ''}`);
    }
    await sleep(interval);
  }
}

/** HTTP GET with a timeout; resolves to the status code and body, or null on connection errors. */
export async function httpGet(url: string, timeoutMs = 2_000, dispatcher?: Dispatcher): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), dispatcher } as RequestInit);
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

export function elapsed(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
}
