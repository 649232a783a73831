import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { CommandFailedError, ProcessRunner } from '@tandem/host';
import { KeyedMutex } from '@tandem/util';
import { ShareError } from './errors';
import { nfsDirs, renderGaneshaConf } from './nfs-config';
import { fileSize, findProcessesWithArg, isAliveWithArg, readFrom, readPidFile, readProcStat, sendSignal, sleep, tailFile, tcpAccepting, waitFor } from './proc';
import { renderSmbConf, smbDirs } from './smb-config';
import { SHARE_PROTOCOLS, ShareEntry, ShareInstanceSpec, ShareProtocol, ShareSpec, ShareStatus } from './types';
import { poolDirs, readStateFile, writeAtomic } from './state-files';
import { validatePath, validatePoolName, validateProtocol, validateShareName, validateShareSpec } from './validate';

/** How often a starting share daemon is looked at until it accepts connections. */
const READY_POLL_MS = 25;

export interface ShareManagerOptions {
  /** Bound on each command and on waiting for a daemon to become ready (default 15 s). */
  timeoutMs?: number;
  /** How long a daemon gets after SIGTERM before SIGKILL (default 5 s). */
  stopTimeoutMs?: number;
  smbdPath?: string;
  smbcontrolPath?: string;
  ganeshaPath?: string;
  /** Unix user that guest SMB sessions act as (default nobody: never root). */
  smbGuestAccount?: string;
  /**
   * The smbpasswd file every smbd checks its users' logins against (kept by whoever manages the
   * share users; read by smbd at each login, so a change needs no reload). Absent: each smbd's own
   * empty passdb, and only guest shares let anyone in.
   */
  smbPassdb?: string;
  nfsGraceSeconds?: number;
  nfsLeaseSeconds?: number;
  /**
   * Where a pool's NFSv4 client recovery records live. Default: the instance directory on
   * this node. For clients to reclaim their state after a failover, point it into the pool
   * itself (`nfsRecoveryDir`), so the records move with the pool; undefined: the default.
   */
  nfsRecoveryRoot?: (pool: string) => string | undefined;
}

const STATE_FILE = 'shares.json';
const STATE_VERSION = 1;

interface StoredState extends ShareInstanceSpec {
  version: number;
}

/** How one kind of share daemon is configured, started, reloaded and recognised. */
interface Driver {
  protocol: ShareProtocol;
  port: number;
  label: string;
  configPath(base: string): string;
  pidFile(base: string): string;
  logFile(base: string): string;
  prepare(base: string, spec: ShareInstanceSpec): Promise<void>;
  render(spec: ShareInstanceSpec, base: string): string;
  launchArgv(base: string): string[];
  needsRestart(prev: ShareInstanceSpec, next: ShareInstanceSpec): boolean;
  /** Makes the running daemon pick up its rewritten config; throws when it could not. */
  reload(pid: number, base: string): Promise<void>;
  /** Problems the daemon logged while starting that leave it running but not serving. */
  startupProblems(logSinceLaunch: string): string | undefined;
}

/**
 * Starts and stops the shares of HA pools on this node. One daemon per pool and protocol
 * (smbd for SMB, NFS-Ganesha for NFSv4), each with its own configuration and runtime
 * directories under `<stateDir>/shares/<pool>/<protocol>/` and bound to the pool's floating
 * IPs only, so that pools move between nodes independently.
 *
 * The desired state of each daemon is kept on disk next to its configuration, and liveness
 * is read from its pid file and /proc, so that a restarted host-executor finds and manages
 * the daemons its predecessor started.
 */
export class ShareManager {
  private readonly mutex = new KeyedMutex();
  private readonly timeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly drivers: Record<ShareProtocol, Driver>;

  constructor(
    private readonly runner: ProcessRunner,
    private readonly stateDir: string,
    private readonly opts: ShareManagerOptions = {},
  ) {
    if (!stateDir.startsWith('/')) throw new Error('ShareManager: stateDir must be absolute');
    if (opts.smbPassdb !== undefined) validatePath(opts.smbPassdb);
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 5_000;
    this.drivers = { smb: this.smbDriver(), nfs: this.nfsDriver() };
  }

  /**
   * Starts (or reconfigures) one share. Starting a share that is already served exactly
   * so is a no-op; a changed spec reloads the pool's daemon, or restarts it when its
   * addresses change.
   */
  async start(input: ShareSpec): Promise<ShareStatus> {
    const spec = validateShareSpec(input);
    return this.mutex.run(spec.pool, async () => {
      const d = this.drivers[spec.protocol];
      const base = this.instanceDir(spec.pool, spec.protocol);
      await this.checkShareDirectory(spec.path);

      const prev = await this.readState(base);
      const next = mergeShare(prev, spec);
      const conf = d.render(next, base);
      const pid = await this.livePid(d, base);

      if (pid !== undefined && prev && sameInstance(prev, next) && (await readText(d.configPath(base))) === conf) {
        return statusOf(next, spec.name, pid);
      }
      this.checkAddressesLocal(next.addresses);

      if (pid !== undefined && prev && !d.needsRestart(prev, next)) {
        await this.writeInstance(d, base, next, conf);
        try {
          await d.reload(pid, base);
          await this.waitReady(d, base, next, pid);
          return statusOf(next, spec.name, pid);
        } catch {
          // Fall through to a full restart with the new configuration.
        }
      }

      try {
        await this.terminate(d, base);
      } catch (err) {
        throw new ShareError('SHARE_START_FAILED', `cannot restart ${d.label} of pool ${spec.pool}: ${(err as Error).message}`);
      }
      try {
        const newPid = await this.launch(d, base, next, conf);
        return statusOf(next, spec.name, newPid);
      } catch (err) {
        await this.rollback(d, base, prev, pid !== undefined);
        throw err;
      }
    });
  }

  /**
   * Stops one share, all shares of a pool for one protocol, or all shares of a pool
   * (name omitted). Idempotent and bounded: SIGTERM, then SIGKILL after stopTimeoutMs.
   */
  async stop(pool: string, name?: string, protocol?: ShareProtocol): Promise<void> {
    validatePoolName(pool);
    if (name !== undefined) validateShareName(name);
    if (protocol !== undefined) validateProtocol(protocol);
    await this.mutex.run(pool, async () => {
      const errors: string[] = [];
      for (const p of protocol ? [protocol] : SHARE_PROTOCOLS) {
        try {
          await this.stopInstanceShares(this.drivers[p], pool, name);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      if (errors.length) throw new ShareError('SHARE_STOP_FAILED', errors.join('; '));
    });
  }

  /** Every configured share and whether its daemon is really running now. */
  async list(): Promise<ShareStatus[]> {
    const out: ShareStatus[] = [];
    for (const pool of await this.knownPools()) {
      for (const protocol of SHARE_PROTOCOLS) {
        const d = this.drivers[protocol];
        const base = this.instanceDir(pool, protocol);
        const state = await this.readState(base);
        if (!state) continue;
        const pid = await this.livePid(d, base);
        for (const s of [...state.shares].sort((a, b) => a.name.localeCompare(b.name))) {
          out.push(statusOf(state, s.name, pid));
        }
      }
    }
    return out;
  }

  /** Stops every share of every pool this node knows about. */
  async stopAll(): Promise<void> {
    const errors: string[] = [];
    for (const pool of await this.knownPools()) {
      try {
        await this.stop(pool);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length) throw new ShareError('SHARE_STOP_FAILED', errors.join('; '));
  }

  // ---------------------------------------------------------------- internals

  private sharesRoot(): string {
    return join(this.stateDir, 'shares');
  }

  private instanceDir(pool: string, protocol: ShareProtocol): string {
    return join(this.sharesRoot(), pool, protocol);
  }

  private knownPools(): Promise<string[]> {
    return poolDirs(this.sharesRoot());
  }

  private readState(base: string): Promise<StoredState | undefined> {
    return readStateFile<StoredState>(join(base, STATE_FILE), STATE_VERSION);
  }

  private async writeState(base: string, spec: ShareInstanceSpec | undefined): Promise<void> {
    const file = join(base, STATE_FILE);
    if (!spec || spec.shares.length === 0) {
      await rm(file, { force: true });
      return;
    }
    const state: StoredState = { version: STATE_VERSION, ...spec };
    await writeAtomic(file, JSON.stringify(state, null, 2) + '\n');
  }

  private async writeInstance(d: Driver, base: string, spec: ShareInstanceSpec, conf: string): Promise<void> {
    await d.prepare(base, spec);
    await writeAtomic(d.configPath(base), conf);
    await this.writeState(base, spec);
  }

  /** The pid of the instance's main daemon process when it is really running. */
  private async livePid(d: Driver, base: string): Promise<number | undefined> {
    const pid = await readPidFile(d.pidFile(base));
    if (pid !== undefined && (await isAliveWithArg(pid, d.configPath(base)))) return pid;
    return undefined;
  }

  private async checkShareDirectory(path: string): Promise<void> {
    let ok = false;
    try {
      ok = (await stat(path)).isDirectory();
    } catch {
      ok = false;
    }
    if (!ok) throw new ShareError('SHARE_START_FAILED', `path ${path} does not exist or is not a directory (is the dataset mounted?)`, 'path');
  }

  private checkAddressesLocal(addresses: string[]): void {
    const local = new Set<string>();
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) local.add(a.address.toLowerCase().replace(/%.*$/, ''));
    }
    const missing = addresses.filter((a) => !local.has(a));
    if (missing.length) {
      throw new ShareError('SHARE_START_FAILED', `address ${missing.join(', ')} is not configured on this node (bring the floating IP up before its shares)`, 'addresses');
    }
  }

  private async launch(d: Driver, base: string, spec: ShareInstanceSpec, conf: string): Promise<number> {
    for (const a of spec.addresses) {
      if (await tcpAccepting(a, d.port, 500)) {
        throw new ShareError('SHARE_START_FAILED', `${a}:${d.port} is already served by another process; cannot start ${d.label} of pool ${spec.pool}`, 'addresses');
      }
    }
    await this.writeInstance(d, base, spec, conf);
    await rm(d.pidFile(base), { force: true });
    const logOffset = await fileSize(d.logFile(base));
    try {
      await this.runner.run(d.launchArgv(base), { timeoutMs: this.timeoutMs });
    } catch (err) {
      const detail = err instanceof CommandFailedError ? err.message : String(err);
      await this.terminate(d, base).catch(() => undefined);
      throw await this.startFailure(d, base, spec, `${d.label} did not start: ${detail}`);
    }
    try {
      return await this.waitReady(d, base, spec, undefined, logOffset);
    } catch (err) {
      await this.terminate(d, base).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Waits, bounded, until the daemon has written its pid file, is alive and accepts TCP on
   * every address (looking every READY_POLL_MS). Fails fast when it dies.
   */
  private async waitReady(d: Driver, base: string, spec: ShareInstanceSpec, knownPid?: number, logOffset?: number): Promise<number> {
    const conf = d.configPath(base);
    const started = Date.now();
    const deadline = started + this.timeoutMs;
    let noProcessSince: number | undefined;
    for (;;) {
      const pid = knownPid ?? (await readPidFile(d.pidFile(base)));
      if (pid !== undefined) {
        if (!(await isAliveWithArg(pid, conf))) {
          throw await this.startFailure(d, base, spec, `${d.label} (pid ${pid}) exited while starting`);
        }
        const accepting = await Promise.all(spec.addresses.map((a) => tcpAccepting(a, d.port, 500)));
        if (accepting.every(Boolean)) {
          if (logOffset !== undefined) {
            const problem = d.startupProblems(await readFrom(d.logFile(base), logOffset));
            if (problem) throw await this.startFailure(d, base, spec, problem);
          }
          return pid;
        }
      } else if ((await findProcessesWithArg(conf)).length === 0) {
        noProcessSince ??= Date.now();
        if (Date.now() - noProcessSince > 500) {
          throw await this.startFailure(d, base, spec, `${d.label} exited before writing its pid file`);
        }
      } else {
        noProcessSince = undefined;
      }
      if (Date.now() >= deadline) {
        const where = spec.addresses.map((a) => `${a}:${d.port}`).join(', ');
        throw await this.startFailure(d, base, spec, `${d.label} not accepting on ${where} after ${this.timeoutMs} ms`);
      }
      // on a takeover's path: every look costs a few reads of /proc and a local connect, a late
      // look costs the clients its whole interval
      await sleep(READY_POLL_MS);
    }
  }

  private async startFailure(d: Driver, base: string, spec: ShareInstanceSpec, why: string): Promise<ShareError> {
    // Samba panics log a stack backtrace; keep the lines that say why.
    const tail = (await tailFile(d.logFile(base), 60))
      .split('\n')
      .filter((l) => !/^\s+#\d+ /.test(l) && !/log_stack_trace|dump_core|BACKTRACE/.test(l))
      .slice(-20)
      .join('\n');
    return new ShareError('SHARE_START_FAILED', `pool ${spec.pool} ${d.protocol}: ${why}` + (tail ? `\n--- ${d.logFile(base)} (tail) ---\n${tail}` : ''));
  }

  /** Restores what was configured before a failed start, and restarts it if it was running. */
  private async rollback(d: Driver, base: string, prev: ShareInstanceSpec | undefined, wasRunning: boolean): Promise<void> {
    try {
      if (!prev) {
        await this.writeState(base, undefined);
        return;
      }
      const conf = d.render(prev, base);
      await this.writeInstance(d, base, prev, conf);
      if (wasRunning) await this.launch(d, base, prev, conf);
    } catch {
      // Best effort: list() reports what is really running.
    }
  }

  private async stopInstanceShares(d: Driver, pool: string, name: string | undefined): Promise<void> {
    const base = this.instanceDir(pool, d.protocol);
    const state = await this.readState(base);
    const remaining = name === undefined || !state ? [] : state.shares.filter((s) => s.name !== name);
    if (state && remaining.length > 0) {
      if (remaining.length === state.shares.length) return; // that share is not configured here
      const next: ShareInstanceSpec = { ...state, shares: remaining };
      const conf = d.render(next, base);
      const pid = await this.livePid(d, base);
      await this.writeInstance(d, base, next, conf);
      if (pid === undefined) return;
      try {
        await d.reload(pid, base);
        await this.waitReady(d, base, next, pid);
        return;
      } catch {
        // The daemon did not take the reload: restart it with what remains, so that the
        // stopped share is certainly no longer served.
        await this.terminate(d, base);
        try {
          await this.launch(d, base, next, conf);
        } catch {
          // The removed share is stopped; list() shows the others as not running.
        }
        return;
      }
    }
    await this.terminate(d, base);
    await this.writeState(base, undefined);
  }

  /**
   * Stops every process of one instance: the one in the pid file and any other process
   * started with its config file (children, leftovers of a crashed daemon). SIGTERM to the
   * process group, then SIGKILL; bounded; throws when something survives SIGKILL.
   */
  private async terminate(d: Driver, base: string): Promise<void> {
    const conf = d.configPath(base);
    const pids = async () => {
      const set = new Set(await findProcessesWithArg(conf));
      const main = await this.livePid(d, base);
      if (main !== undefined) set.add(main);
      return [...set];
    };
    const signalAll = async (list: number[], sig: NodeJS.Signals) => {
      for (const pid of list) {
        const st = await readProcStat(pid);
        if (st && st.pgrp === pid) sendSignal(-pid, sig);
        sendSignal(pid, sig);
      }
    };
    let alive = await pids();
    if (alive.length > 0) {
      await signalAll(alive, 'SIGTERM');
      if (!(await waitFor(async () => (alive = await pids()).length === 0, this.stopTimeoutMs))) {
        await signalAll(alive, 'SIGKILL');
        if (!(await waitFor(async () => (alive = await pids()).length === 0, 3_000))) {
          const states = await Promise.all(alive.map(async (p) => `${p}(${(await readProcStat(p))?.state ?? '?'})`));
          throw new ShareError('SHARE_STOP_FAILED', `${d.label} of ${base} did not exit after SIGKILL: ${states.join(', ')} (blocked in the kernel?)`);
        }
      }
    }
    await rm(d.pidFile(base), { force: true });
  }

  // ---------------------------------------------------------------- drivers

  private nfsDirsOf(base: string, pool: string) {
    const dirs = nfsDirs(base);
    const custom = this.opts.nfsRecoveryRoot?.(pool);
    if (custom !== undefined) dirs.recovery = validatePath(custom);
    return dirs;
  }

  private smbDriver(): Driver {
    const smbd = this.opts.smbdPath ?? 'smbd';
    const smbcontrol = this.opts.smbcontrolPath ?? 'smbcontrol';
    return {
      protocol: 'smb',
      port: 445,
      label: 'smbd',
      configPath: (base) => join(base, 'smb.conf'),
      pidFile: (base) => join(smbDirs(base).pid, 'smbd.pid'),
      logFile: (base) => smbDirs(base).logFile,
      prepare: async (base, _spec) => {
        const dirs = smbDirs(base);
        for (const dir of [dirs.base, dirs.pid, dirs.lock, dirs.state, dirs.cache, dirs.ncalrpc]) {
          await mkdir(dir, { recursive: true, mode: 0o755 });
        }
        await mkdir(dirs.private, { recursive: true, mode: 0o700 });
        const passdb = this.opts.smbPassdb;
        if (passdb !== undefined) {
          // until the share users are known, nobody's login is (an empty file, never one smbd makes up)
          await mkdir(dirname(passdb), { recursive: true, mode: 0o700 });
          await writeFile(passdb, '', { mode: 0o600, flag: 'a' });
        }
      },
      render: (spec, base) => renderSmbConf(spec, smbDirs(base), { guestAccount: this.opts.smbGuestAccount, passdb: this.opts.smbPassdb }),
      // Daemon mode: smbd forks, calls setsid (its own process group) and writes its pid file.
      launchArgv: (base) => [smbd, '--daemon', '--configfile', join(base, 'smb.conf'), '--log-basename', base],
      needsRestart: (prev, next) => !sameList(prev.addresses, next.addresses),
      reload: async (pid, base) => {
        try {
          // Scoped to this instance: smbcontrol finds its processes through the lock directory.
          await this.runner.run([smbcontrol, '--configfile', join(base, 'smb.conf'), 'all', 'reload-config'], {
            timeoutMs: this.timeoutMs,
          });
        } catch {
          sendSignal(pid, 'SIGHUP');
        }
        await sleep(200);
      },
      startupProblems: () => undefined,
    };
  }

  private nfsDriver(): Driver {
    const ganesha = this.opts.ganeshaPath ?? 'ganesha.nfsd';
    return {
      protocol: 'nfs',
      port: 2049,
      label: 'ganesha.nfsd',
      configPath: (base) => join(base, 'ganesha.conf'),
      pidFile: (base) => nfsDirs(base).pidFile,
      logFile: (base) => nfsDirs(base).logFile,
      prepare: async (base, spec) => {
        await mkdir(base, { recursive: true, mode: 0o755 });
        await mkdir(this.nfsDirsOf(base, spec.pool).recovery, { recursive: true, mode: 0o755 });
      },
      render: (spec, base) =>
        renderGaneshaConf(spec, this.nfsDirsOf(base, spec.pool), {
          graceSeconds: this.opts.nfsGraceSeconds,
          leaseSeconds: this.opts.nfsLeaseSeconds,
        }),
      // Daemon mode (the default): ganesha forks, calls setsid and writes the pid file.
      launchArgv: (base) => {
        const dirs = nfsDirs(base);
        return [ganesha, '-f', join(base, 'ganesha.conf'), '-L', dirs.logFile, '-p', dirs.pidFile, '-N', 'NIV_EVENT'];
      },
      needsRestart: (prev, next) => {
        if (!sameList(prev.addresses, next.addresses)) return true;
        // Ganesha cannot change the path of an existing Export_Id on reload.
        return next.shares.some((n) => prev.shares.some((p) => p.exportId === n.exportId && p.path !== n.path));
      },
      reload: async (pid, base) => {
        const log = nfsDirs(base).logFile;
        const offset = await fileSize(log);
        sendSignal(pid, 'SIGHUP');
        let text = '';
        const done = await waitFor(async () => /Reread exports/i.test((text = await readFrom(log, offset))), Math.min(this.timeoutMs, 5_000));
        if (!done) throw new Error('ganesha did not confirm the export reload');
        const problem = ganeshaProblems(text);
        if (problem) throw new Error(problem);
      },
      startupProblems: ganeshaProblems,
    };
  }
}

/** Configuration or export errors in a ganesha log excerpt (dbus/kerberos noise ignored). */
function ganeshaProblems(log: string): string | undefined {
  const bad = log
    .split('\n')
    .filter((l) => /:(CONFIG|EXPORT|FSAL) :(CRIT|FATAL|MAJ) :/.test(l) || /Error .* while parsing/.test(l))
    .filter((l) => !/dbus|krb5|keytab|gssd|rados/i.test(l));
  return bad.length ? `ganesha reported configuration errors:\n${bad.slice(-10).join('\n')}` : undefined;
}

function mergeShare(prev: ShareInstanceSpec | undefined, spec: Required<ShareSpec>): ShareInstanceSpec {
  const shares: ShareEntry[] = prev ? prev.shares.map((s) => ({ ...s })) : [];
  const clash = shares.find((s) => s.name !== spec.name && s.name.toLowerCase() === spec.name.toLowerCase());
  if (clash) {
    throw new ShareError('INVALID_ARGUMENT', `name: share ${spec.name} clashes with ${clash.name} of pool ${spec.pool} (names are case-insensitive)`, 'name');
  }
  const existing = shares.find((s) => s.name === spec.name);
  const entry: ShareEntry = { name: spec.name, path: spec.path, readOnly: spec.readOnly, clients: spec.clients, rootSquash: spec.rootSquash };
  if (spec.protocol === 'smb' && spec.users.length > 0) entry.users = spec.users;
  if (spec.protocol === 'nfs') {
    const used = new Set(shares.filter((s) => s.name !== spec.name).map((s) => s.exportId));
    let id = existing?.exportId;
    if (id === undefined) for (id = 1; used.has(id); id++);
    entry.exportId = id;
  }
  const next = shares.filter((s) => s.name !== spec.name);
  next.push(entry);
  next.sort((a, b) => a.name.localeCompare(b.name));
  return { pool: spec.pool, protocol: spec.protocol, addresses: spec.addresses, shares: next };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameInstance(a: ShareInstanceSpec, b: ShareInstanceSpec): boolean {
  const key = (s: ShareInstanceSpec) =>
    JSON.stringify({
      addresses: s.addresses,
      shares: [...s.shares].sort((x, y) => x.name.localeCompare(y.name)).map((x) => [x.name, x.path, x.readOnly, x.exportId ?? 0, x.clients ?? [], x.rootSquash !== false, x.users ?? []]),
    });
  return key(a) === key(b);
}

function statusOf(state: ShareInstanceSpec, name: string, pid: number | undefined): ShareStatus {
  const share = state.shares.find((s) => s.name === name);
  if (!share) throw new Error(`share ${name} not in state of pool ${state.pool}`);
  const status: ShareStatus = {
    pool: state.pool,
    name: share.name,
    protocol: state.protocol,
    path: share.path,
    addresses: [...state.addresses],
    running: pid !== undefined,
  };
  if (pid !== undefined) status.pid = pid;
  return status;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}
