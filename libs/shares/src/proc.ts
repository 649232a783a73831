import { open, readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';

/** Helpers over /proc and sockets for supervising share daemons. Linux only. */

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
    const rest = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { pid, state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

export async function readCmdline(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return [];
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** Alive = exists and is neither a zombie nor dead (PID 1 here may reap late). */
export async function isAlive(pid: number): Promise<boolean> {
  const st = await readProcStat(pid);
  return !!st && st.state !== 'Z' && st.state !== 'X' && st.state !== 'x';
}

/** Alive and started with `marker` as one of its arguments (guards against pid reuse). */
export async function isAliveWithArg(pid: number, marker: string): Promise<boolean> {
  if (!(await isAlive(pid))) return false;
  const argv = await readCmdline(pid);
  return !!argv && argv.includes(marker);
}

/** Every live process (not zombie) one of whose arguments is exactly `marker`. */
export async function findProcessesWithArg(marker: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const argv = await readCmdline(pid);
    if (argv && argv.includes(marker) && (await isAlive(pid))) found.push(pid);
  }
  return found;
}

export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}

/** Whether something accepts TCP connections on host:port (from this network namespace). */
export function tcpAccepting(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on('error', () => undefined);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** The last `lines` lines of a (log) file, at most 64 KiB read; '' when missing. */
export async function tailFile(path: string, lines = 20): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(-lines)
        .join('\n');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/** Byte size of a file (0 when missing), to read only what a daemon logged after a point. */
export async function fileSize(path: string): Promise<number> {
  try {
    const fh = await open(path, 'r');
    try {
      return (await fh.stat()).size;
    } finally {
      await fh.close();
    }
  } catch {
    return 0;
  }
}

export async function readFrom(path: string, offset: number): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      if (size <= offset) return '';
      const len = Math.min(size - offset, 1024 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, offset);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}
