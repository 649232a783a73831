import { mkdir, rm } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ISCSI_PORT, tgtLunPlan, tgtLunRemoval, tgtTargetPlan, portalOf, type TgtLun, type TgtTargetSpec } from '@tandem/domain';
import { CommandFailedError, ProcessRunner } from '@tandem/host';
import { KeyedMutex } from '@tandem/util';
import { ShareError } from './errors';
import { findProcessesWithArg, isAliveWithArg, readPidFile, readProcStat, sendSignal, tcpAccepting, waitFor } from './proc';
import { poolDirs, readStateFile, writeAtomic } from './state-files';
import { validatePoolName } from './validate';

export interface IscsiTargetManagerOptions {
  /** Bound on each command and on waiting for tgtd to become ready (default 15 s). */
  timeoutMs?: number;
  /** How long tgtd gets to be gone after SIGKILL (default 3 s). */
  stopTimeoutMs?: number;
  tgtdPath?: string;
  tgtadmPath?: string;
}

/** One pool's target as asked for: its name, portals, LUNs (with their backings here) and CHAP. */
export interface IscsiTargetSpec extends TgtTargetSpec {
  pool: string;
  luns: Array<TgtLun & { sizeBytes: number; backing: 'zvol' | 'file' }>;
}

export interface IscsiTargetStatus {
  pool: string;
  iqn: string;
  addresses: string[];
  luns: IscsiTargetSpec['luns'];
  chap: boolean;
  running: boolean;
  pid?: number;
}

interface StoredTarget {
  version: 1;
  /** tgtd's management port (-C): its control socket is /var/run/tgtd/socket.<port>. */
  controlPort: number;
  spec: IscsiTargetSpec;
}

const STATE_FILE = 'target.json';

/**
 * iSCSI targets of HA pools on this node, served by tgt (userspace). One tgtd per pool, so that
 * a pool's target listens on that pool's floating IPs only (tgt's portals belong to the daemon,
 * not to a target) and stops with the pool alone. Each tgtd has its own management port; its
 * control socket lives in /var/run/tgtd, which must be this node's own (it is on a real machine;
 * the testbed gives each node a private one).
 *
 * The desired state of each target is kept on disk beside its pid file, so that a restarted
 * host-executor finds and manages the daemons its predecessor started.
 */
export class IscsiTargetManager {
  private readonly mutex = new KeyedMutex();
  private readonly timeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly tgtd: string;
  private readonly tgtadm: string;

  constructor(
    private readonly runner: ProcessRunner,
    private readonly stateDir: string,
    opts: IscsiTargetManagerOptions = {},
  ) {
    if (!stateDir.startsWith('/')) throw new Error('IscsiTargetManager: stateDir must be absolute');
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 3_000;
    this.tgtd = opts.tgtdPath ?? 'tgtd';
    this.tgtadm = opts.tgtadmPath ?? 'tgtadm';
  }

  /**
   * Serves the pool's target as `spec` says. A running target with the same name, portals and
   * CHAP takes added and removed LUNs in place (initiators keep their sessions to the others);
   * anything else restarts the pool's tgtd. True in `changed` when anything had to change.
   */
  async start(spec: IscsiTargetSpec): Promise<{ changed: boolean; status: IscsiTargetStatus }> {
    validatePoolName(spec.pool);
    if (spec.addresses.length === 0) throw new ShareError('INVALID_ARGUMENT', `pool ${spec.pool}: an iSCSI target needs at least one floating IP`, 'addresses');
    return this.mutex.run(spec.pool, async () => {
      const base = this.instanceDir(spec.pool);
      const prev = await this.readState(base);
      const pid = prev ? await this.livePid(base) : undefined;
      if (prev && pid !== undefined && sameTarget(prev.spec, spec)) {
        const changed = await this.updateLuns(prev, spec);
        await this.writeState(base, { ...prev, spec });
        return { changed, status: statusOf(spec, pid) };
      }
      this.checkAddressesLocal(spec);
      await this.terminate(base);
      const controlPort = prev?.controlPort ?? (await this.freeControlPort());
      const state: StoredTarget = { version: 1, controlPort, spec };
      const newPid = await this.launch(base, state);
      return { changed: true, status: statusOf(spec, newPid) };
    });
  }

  /** Stops the pool's target (its sessions end). Idempotent; true when a tgtd was running. */
  async stop(pool: string): Promise<boolean> {
    validatePoolName(pool);
    return this.mutex.run(pool, async () => {
      const base = this.instanceDir(pool);
      const was = (await this.livePid(base)) !== undefined || (await findProcessesWithArg(this.pidFile(base))).length > 0;
      await this.terminate(base);
      await rm(join(base, STATE_FILE), { force: true });
      return was;
    });
  }

  /** Every target this node knows of and whether its tgtd really runs now. */
  async list(): Promise<IscsiTargetStatus[]> {
    const out: IscsiTargetStatus[] = [];
    for (const pool of await this.knownPools()) {
      const base = this.instanceDir(pool);
      const state = await this.readState(base);
      if (state) out.push(statusOf(state.spec, await this.livePid(base)));
    }
    return out;
  }

  // ---------------------------------------------------------------- internals

  private root(): string {
    return join(this.stateDir, 'iscsi');
  }

  private instanceDir(pool: string): string {
    return join(this.root(), pool);
  }

  private pidFile(base: string): string {
    return join(base, 'tgtd.pid');
  }

  private knownPools(): Promise<string[]> {
    return poolDirs(this.root());
  }

  private readState(base: string): Promise<StoredTarget | undefined> {
    return readStateFile<StoredTarget>(join(base, STATE_FILE), 1);
  }

  private async writeState(base: string, state: StoredTarget): Promise<void> {
    await mkdir(base, { recursive: true, mode: 0o700 });
    // it may hold the CHAP secret: root only
    await writeAtomic(join(base, STATE_FILE), JSON.stringify(state, null, 2) + '\n', 0o600);
  }

  /** The lowest management port no other target of this node uses (0 is left to a system tgtd). */
  private async freeControlPort(): Promise<number> {
    const used = new Set<number>();
    for (const pool of await this.knownPools()) {
      const s = await this.readState(this.instanceDir(pool)).catch(() => undefined);
      if (s) used.add(s.controlPort);
    }
    let port = 1;
    while (used.has(port)) port++;
    return port;
  }

  private async livePid(base: string): Promise<number | undefined> {
    const pid = await readPidFile(this.pidFile(base));
    return pid !== undefined && (await isAliveWithArg(pid, this.pidFile(base))) ? pid : undefined;
  }

  private checkAddressesLocal(spec: IscsiTargetSpec): void {
    const local = new Set<string>();
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) local.add(a.address.toLowerCase().replace(/%.*$/, ''));
    const missing = spec.addresses.filter((a) => !local.has(a.toLowerCase()));
    if (missing.length)
      throw new ShareError('SHARE_START_FAILED', `address ${missing.join(', ')} is not configured on this node (bring the floating IP up before the iSCSI target of pool ${spec.pool})`, 'addresses');
  }

  private async admin(port: number, args: string[]): Promise<void> {
    try {
      await this.runner.run([this.tgtadm, '-C', String(port), '--lld', 'iscsi', ...args], { timeoutMs: this.timeoutMs });
    } catch (err) {
      const detail = err instanceof CommandFailedError ? err.message : String(err);
      // never repeat a CHAP secret in an error
      throw new ShareError('SHARE_START_FAILED', `tgtadm ${redact(args).join(' ')}: ${redactText(detail, args)}`);
    }
  }

  private async launch(base: string, state: StoredTarget): Promise<number> {
    const { spec, controlPort } = state;
    for (const a of spec.addresses) {
      if (await tcpAccepting(a, ISCSI_PORT, 500))
        throw new ShareError('SHARE_START_FAILED', `${portalOf(a)} is already served by another process; cannot start the iSCSI target of pool ${spec.pool}`, 'addresses');
    }
    await this.writeState(base, state);
    const pidFile = this.pidFile(base);
    await rm(pidFile, { force: true });
    try {
      // daemon mode: tgtd forks and writes its pid file; the first portal is its own, the others are added
      await this.runner.run([this.tgtd, '-C', String(controlPort), '-p', pidFile, '--iscsi', `portal=${portalOf(spec.addresses[0])}`], { timeoutMs: this.timeoutMs });
      let pid: number | undefined;
      if (!(await waitFor(async () => (pid = await this.livePid(base)) !== undefined, this.timeoutMs)) || pid === undefined) {
        throw new ShareError('SHARE_START_FAILED', `tgtd of pool ${spec.pool} did not start (no live process for ${pidFile} after ${this.timeoutMs} ms)`);
      }
      // its management socket answers once it is ready
      const ready = await waitFor(
        async () => (await this.runner.run([this.tgtadm, '-C', String(controlPort), '--op', 'show', '--mode', 'sys'], { timeoutMs: 2_000, allowFailure: true })).exitCode === 0,
        this.timeoutMs,
      );
      if (!ready) throw new ShareError('SHARE_START_FAILED', `tgtd of pool ${spec.pool} does not answer on management port ${controlPort}`);
      for (const args of tgtTargetPlan(spec)) await this.admin(controlPort, args);
      const listening = await waitFor(async () => (await Promise.all(spec.addresses.map((a) => tcpAccepting(a, ISCSI_PORT, 500)))).every(Boolean), this.timeoutMs);
      if (!listening) throw new ShareError('SHARE_START_FAILED', `tgtd of pool ${spec.pool} is not accepting on ${spec.addresses.map(portalOf).join(', ')}`);
      return pid;
    } catch (err) {
      await this.terminate(base).catch(() => undefined);
      await rm(join(base, STATE_FILE), { force: true });
      if (err instanceof ShareError) throw err;
      throw new ShareError('SHARE_START_FAILED', `tgtd of pool ${spec.pool} did not start: ${(err as Error).message}`);
    }
  }

  /** Adds and removes LUNs on the running target; true when any changed. */
  private async updateLuns(prev: StoredTarget, next: IscsiTargetSpec): Promise<boolean> {
    const key = (l: TgtLun) => JSON.stringify([l.number, l.path, l.scsiId, l.serial]);
    const keep = new Set(next.luns.map(key));
    const had = new Set(prev.spec.luns.map(key));
    const gone = prev.spec.luns.filter((l) => !keep.has(key(l)));
    const added = next.luns.filter((l) => !had.has(key(l)));
    for (const l of gone) await this.admin(prev.controlPort, tgtLunRemoval(l.number));
    for (const l of added.sort((a, b) => a.number - b.number)) for (const args of tgtLunPlan(l)) await this.admin(prev.controlPort, args);
    return gone.length + added.length > 0;
  }

  /**
   * Stops every process of one target: the one in the pid file and any other started with it.
   * SIGKILL at once: tgtd keeps no write cache (every write went to the backing before it was
   * acknowledged, to the page cache or the device; a SYNCHRONIZE CACHE was an fdatasync), and it ignores SIGTERM while it has
   * targets, so a gentler stop would only spend the fence's time. Throws when something survives.
   */
  private async terminate(base: string): Promise<void> {
    const marker = this.pidFile(base);
    const pids = async () => {
      const set = new Set(await findProcessesWithArg(marker));
      const main = await this.livePid(base);
      if (main !== undefined) set.add(main);
      return [...set];
    };
    let alive = await pids();
    if (alive.length > 0) {
      for (const p of alive) sendSignal(p, 'SIGKILL');
      if (!(await waitFor(async () => (alive = await pids()).length === 0, this.stopTimeoutMs))) {
        const states = await Promise.all(alive.map(async (p) => `${p}(${(await readProcStat(p))?.state ?? '?'})`));
        throw new ShareError('SHARE_STOP_FAILED', `tgtd of ${base} did not exit after SIGKILL: ${states.join(', ')}`);
      }
    }
    await rm(marker, { force: true });
  }
}

function sameTarget(a: IscsiTargetSpec, b: IscsiTargetSpec): boolean {
  return a.iqn === b.iqn && JSON.stringify(a.addresses) === JSON.stringify(b.addresses) && JSON.stringify(a.chap ?? null) === JSON.stringify(b.chap ?? null);
}

function statusOf(spec: IscsiTargetSpec, pid: number | undefined): IscsiTargetStatus {
  const s: IscsiTargetStatus = { pool: spec.pool, iqn: spec.iqn, addresses: [...spec.addresses], luns: spec.luns, chap: spec.chap !== undefined, running: pid !== undefined };
  if (pid !== undefined) s.pid = pid;
  return s;
}

function redact(args: string[]): string[] {
  return args.map((a, i) => (args[i - 1] === '--password' ? '***' : a));
}

function redactText(text: string, args: string[]): string {
  const i = args.indexOf('--password');
  return i >= 0 && args[i + 1] ? text.split(args[i + 1]).join('***') : text;
}
