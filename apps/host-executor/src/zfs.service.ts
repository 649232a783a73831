import { Inject, Injectable, Logger } from '@nestjs/common';
import { chmod, mkdir, open, readlink, rm, stat, symlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ErrorCode, TandemError, type DatasetInfo, type HostOpParsed, type HostOpResults, type ImportablePool, type PoolSummary, type SnapshotInfo } from '@tandem/contracts';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { CommandFailedError, ProcessRunner, poolMountPoints, readMountTable, type CommandResult } from '@tandem/host';
import { BatchQueue, FreshRead, KeyedMutex, sleep } from '@tandem/util';
import { datasetsFromGet, parseImportScan, parseMountState, parseZpoolList, parseZpoolStatus, snapshotsFromGet, suspendedPools, zfs, zfsError, zpool, type FilesystemMountState } from '@tandem/zfs';
import { EpochGuard } from './epoch-guard.service';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { ShareService } from './share.service';

/** A failed command's message with the tool's own words (the whole stderr is in `detail`). */
function wordsOf(err: unknown): string {
  return err instanceof TandemError ? [err.message, err.detail].filter(Boolean).join('\n') : String(err);
}

/** Pools, datasets, snapshots and holds on this node's ZFS. One lock per pool. */
/** Is `path` inside directory `dir`? */
function isUnder(path: string, dir: string): boolean {
  return path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** How an import went: the disks it was imported from (when all are known), whether the request named them, and the pool as listed after it (when it was). */
interface Imported {
  devices?: string[];
  hinted: boolean;
  listed?: PoolSummary;
}

/** An import from the disks a pool's record names: `dir` holds links to exactly those disks. */
interface HintedImport {
  pool: string;
  dir: string;
  force: boolean;
  readonly: boolean;
}

/**
 * At most this many pools in one `zpool import -a` (see ZfsService.importBatch): a node taking
 * over 200 pools imports them in batches, each one command and one scan of its own pools' disks.
 */
export const IMPORT_BATCH_MAX = 32;

@Injectable()
export class ZfsService {
  private readonly logger = new Logger('zfs');
  readonly locks = new KeyedMutex();
  /**
   * Imports and exports of this node run one at a time, whatever the pool: ZFS serializes them on
   * its pool configuration lock anyway, and zfs-fuse wedged (every zpool command hanging, 1,200
   * threads) when a takeover of 20 pools ran eight at once. The rest of each pool's takeover (its
   * IPs, shares, records) still runs side by side with the next pool's import. The fence's export
   * is not held by it: it is bounded, and the harder fence backs it.
   */
  private readonly poolConfig = new KeyedMutex();
  /**
   * The scan of the disks for importable pools, shared by the imports that wait for one: twenty
   * pools taken over at once read every disk label once, not twenty times (each scan reads every
   * disk, so twenty scans of twenty pools' disks grew with the square). Each import still gets a
   * scan that began after it asked.
   */
  private readonly scans = new FreshRead(() => this.poolConfig.run('config', () => this.importable()));
  /**
   * Imports from the disks their records name, waiting together for their turn at the
   * configuration lock: one `zpool import -a` for those that waited together (importBatch). A
   * lone import (one pool failing over) runs at once, as before.
   */
  private readonly hintedImports = new BatchQueue<HintedImport, PoolSummary | undefined>({
    max: IMPORT_BATCH_MAX,
    turn: (fn) => this.poolConfig.run('config', fn),
    run: (items) => this.importBatch(items),
  });
  /** Where an import finds its pool's disks: a directory per pool, of links to the disks the scan found. */
  private readonly importLinksDir: string;

  constructor(
    private readonly runner: ProcessRunner,
    private readonly epochs: EpochGuard,
    private readonly shares: ShareService,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
    @Inject(SERVICE_CONTEXT) ctx: Pick<ServiceContext, 'config'>,
  ) {
    this.importLinksDir = join(ctx.config.stateDir, 'import-devices');
  }

  async run(argv: string[], timeoutMs = this.cfg.commandTimeoutMs): Promise<CommandResult> {
    try {
      return await this.runner.run(argv, { timeoutMs });
    } catch (err) {
      if (err instanceof CommandFailedError) throw zfsError(argv, err.stderr, err.timedOut);
      throw err;
    }
  }

  private lockOf(name: string): string {
    return `pool:${name.split(/[/@]/)[0]}`;
  }

  async available(): Promise<boolean> {
    try {
      await this.run(zpool.list(), 5_000);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The imported pools with their health. A pool ZFS suspended after its devices failed is
   * SUSPENDED here, also where `zpool list` still says ONLINE (zfs-fuse): `zpool status -x`,
   * which lists only the pools with problems, tells.
   */
  /**
   * The imported pools (`zpool list`, each suspended one marked from `zpool status -x`), one read
   * shared by every caller asking at once (each still gets a read that began after it asked): a
   * takeover of twenty pools asks before and after each import, the heartbeat's health and the
   * fence ask too, and every one of those commands waits on the same ZFS lock as the imports.
   */
  listPools(): Promise<readonly PoolSummary[]> {
    return this.poolLists.get();
  }

  private readonly poolLists = new FreshRead(() => this.readPools());

  private async readPools(): Promise<PoolSummary[]> {
    const pools = parseZpoolList((await this.run(zpool.list())).stdout);
    if (pools.length === 0) return pools;
    const unhealthy = await this.run(zpool.statusUnhealthy(), 5_000).catch(() => null);
    const suspended = new Set(unhealthy ? suspendedPools(unhealthy.stdout) : []);
    return pools.map((p) => (suspended.has(p.name) ? { ...p, health: 'SUSPENDED' } : p));
  }

  async findPool(name: string): Promise<PoolSummary | undefined> {
    return (await this.listPools()).find((p) => p.name === name);
  }

  async poolStatus(pool: string) {
    return parseZpoolStatus((await this.run(zpool.status(pool))).stdout);
  }

  /**
   * The directories this node imports pools from: the shared disks (every node sees them) and its
   * own local disks (replicated pools' copies), each only while it exists (zfs-fuse refuses a
   * missing `-d` directory with "must be an absolute path").
   */
  private async deviceDirs(): Promise<string[]> {
    const dirs = this.diskDirs();
    const present = await Promise.all(dirs.map(async (d) => (await stat(d).catch(() => null))?.isDirectory() === true));
    return dirs.filter((_, i) => present[i]);
  }

  /** This node's disk directories: the shared disks and its own local disks (one, when they are the same). */
  private diskDirs(): string[] {
    return [...new Set([this.cfg.deviceDir, this.cfg.localDeviceDir])];
  }

  /** Which of this node's disk directories a device is in, for messages. */
  private disksOf(device: string): string {
    if (isUnder(device, this.cfg.localDeviceDir)) return `its local disks (${this.cfg.localDeviceDir})`;
    if (isUnder(device, this.cfg.deviceDir)) return `the shared disks (${this.cfg.deviceDir})`;
    return device;
  }

  /** The pools importable from the shared and the local disks (`zpool import -d SHARED -d LOCAL`). */
  async importable(): Promise<ImportablePool[]> {
    return this.importableIn(await this.deviceDirs());
  }

  /** The pools importable from these directories (`zpool import -d DIR...`). */
  private async importableIn(dirs: readonly string[]): Promise<ImportablePool[]> {
    if (dirs.length === 0) return [];
    try {
      return parseImportScan((await this.run(zpool.scanImportable(dirs))).stdout);
    } catch (err) {
      // zpool import exits 1 with "no pools available to import"
      if (err instanceof TandemError && err.code === ErrorCode.CommandFailed && /^$|no pools available/i.test(err.detail ?? '')) return [];
      throw err;
    }
  }

  /**
   * The one importable pool of that name, or why not. Two of the same name (a pool on the shared
   * disks and a replicated pool's local copy, say) are a misconfiguration: importing either by
   * name would be a guess, so neither is.
   */
  private async importableOne(pool: string): Promise<ImportablePool> {
    const found = (await this.scans.get()).filter((c) => c.name === pool);
    if (found.length === 0) {
      const dirs = this.diskDirs().join(' and ');
      throw new TandemError(ErrorCode.PoolNotImportable, `pool ${pool} is not importable from ${dirs}: no such pool on the disks this node sees`, 'pool');
    }
    if (found.length > 1) {
      const where = found.map((c) => `id ${c.id} on ${c.devices.length ? [...new Set(c.devices.map((d) => this.disksOf(d)))].join(', ') : 'unknown disks'}`).join('; ');
      throw new TandemError(
        ErrorCode.PoolNotImportable,
        `pool ${pool} is not imported: ${found.length} pools of that name are importable on this node (${where}). A pool on the shared disks and a replicated pool's local copy must not have the same name: destroy or rename one of them`,
        'pool',
      );
    }
    return found[0];
  }

  /**
   * A directory holding links to exactly the disks of `found` (named as the disks are), for
   * `zpool import -d`: the import then reads those disks' labels alone. Null when the scan did not
   * show every disk of a healthy pool (then the import searches the whole device directories).
   * Kept while the pool is imported (ZFS names its disks by these paths); made again on each import.
   */
  private async linkDevices(pool: string, found: ImportablePool): Promise<string | null> {
    if (found.state !== 'ONLINE' || found.devices.length === 0) return null;
    return this.linkDir(pool, found.devices);
  }

  /** The directory of links to `devices` that an import of `pool` reads (see linkDevices). */
  private async linkDir(pool: string, devices: readonly string[]): Promise<string> {
    const dir = join(this.importLinksDir, pool);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const names = new Set<string>();
    for (const [i, device] of devices.entries()) {
      let name = basename(device);
      if (names.has(name)) name = `${i}-${name}`;
      names.add(name);
      await symlink(device, join(dir, name));
    }
    return dir;
  }

  /**
   * Import a pool for a role, or bring an imported one to it (see `bringToRole`). `imported`
   * says whether this call imported it (a role change alone is not an import). `authorize` runs
   * first, under the pool's lock (so operations on the pool still run in the order they came).
   */
  importPool(req: HostOpParsed<'pool.import'>, authorize?: () => Promise<void>): Promise<HostOpResults['pool.import'] & { imported: boolean }> {
    return this.locks.run(this.lockOf(req.pool), async () => {
      await authorize?.();
      this.epochs.admit(req.pool, req.epoch);
      const present = await this.findPool(req.pool);
      if (present) {
        const role = await this.bringToRole(req.pool, req.role);
        if (role.changed) this.logger.log(`${req.pool}: now ${req.role}`);
        // served from here on (an attach of a pool imported already): where its disks are, for its record
        const devices = req.role === 'serve' ? await this.importedDevices(req.pool) : null;
        return { changed: role.changed, imported: false, pool: present, epoch: req.epoch, mountpoint: role.mountpoint, ...(devices ? { devices } : {}) };
      }
      let from: Imported = { hinted: false };
      try {
        from = await this.importFrom(req);
      } catch (err) {
        if (!/cannot mount/i.test(wordsOf(err)) || !(await this.findPool(req.pool))) throw err;
        // imported; the role's mounts are made below (a replica has none)
        if (req.role === 'serve') await this.remountStale(req.pool, err as Error);
        else this.logger.warn(`${req.pool}: imported, some datasets not mounted (${(err as Error).message.trim()}); making it a ${req.role}`);
      }
      const now = from.listed ?? (await this.findPool(req.pool));
      if (!now) throw new TandemError(ErrorCode.CommandFailed, `zpool import ${req.pool} reported success but the pool is not listed`);
      const role = await this.bringToRole(req.pool, req.role);
      const how = `${req.force ? ' (forced)' : ''}${from.hinted ? ' from the disks its record names' : ''}`;
      this.logger.log(`imported ${req.pool} as ${req.role}${how}${req.epoch !== undefined ? ` at epoch ${req.epoch}` : ''}`);
      return { changed: true, imported: true, pool: now, epoch: req.epoch, mountpoint: role.mountpoint, ...(from.devices ? { devices: from.devices } : {}) };
    });
  }

  /**
   * Import `req.pool` (not imported here). From the disks the request names (where its record
   * says it was last imported from) when every one is there, in this node's disk directories: the
   * import reads those disks' labels alone. Otherwise — or when the pool is not importable from
   * them, or comes up short of a disk from them (a disk added since, found only by a scan) — from
   * a scan of every disk. The disks it was imported from, when all of them are known.
   * Under the pool's lock.
   */
  private async importFrom(req: HostOpParsed<'pool.import'>): Promise<Imported> {
    // a replica or retrieval copy: whatever the import mounts is mounted read-only
    const readonly = req.role !== 'serve';
    const hint = req.devices && (await this.usableHint(req.devices));
    if (hint) {
      let listedByBatch: PoolSummary | undefined;
      try {
        listedByBatch = await this.hintedImports.push({ pool: req.pool, dir: await this.linkDir(req.pool, hint), force: req.force, readonly });
      } catch (err) {
        if (/cannot mount/i.test(wordsOf(err))) throw err; // imported: the caller mounts
        if (await this.findPool(req.pool)) throw err;
        this.logger.warn(`${req.pool}: not importable from the disks its record names (${wordsOf(err).trim().split('\n').pop()}); scanning every disk`);
        return this.importScanned(req, readonly);
      }
      const listed = listedByBatch ?? (await this.findPool(req.pool));
      if (listed?.health === 'ONLINE') return { devices: hint, hinted: true, listed };
      const health = listed?.health;
      // a disk the record does not name (added since) would be missing: a scan finds them all
      this.logger.warn(`${req.pool}: ${health ?? 'not listed'} from the disks its record names; exporting it and scanning every disk`);
      await this.poolConfig.run('config', () => this.run(zpool.export(req.pool, false)));
    }
    return this.importScanned(req, readonly);
  }

  /**
   * Imports from known disks that waited together, under the configuration lock: a pool alone is
   * imported by its name; several (of the same kind: forced or not, read-only mounts or not) in
   * one `zpool import -a` reading only their link directories — once a scan of exactly those
   * directories has shown each of them there once, healthy, and no other pool. `-a` imports every
   * pool it finds, so anything else there (a disk of another pool in a record's list, a second
   * pool of the same name) means each is imported by its name instead. A pool the batch did not
   * import is imported by its name too, which says why it could not be.
   */
  private async importBatch(items: HintedImport[]): Promise<Array<PromiseSettledResult<PoolSummary | undefined>>> {
    const results = new Map<HintedImport, PromiseSettledResult<PoolSummary | undefined>>();
    const byName = async (i: HintedImport) => {
      try {
        await this.run(zpool.import(i.pool, [i.dir], i.force, i.readonly));
        results.set(i, { status: 'fulfilled', value: undefined });
      } catch (err) {
        results.set(i, { status: 'rejected', reason: err });
      }
    };
    const kinds = new Map<string, HintedImport[]>();
    for (const i of items) {
      const kind = `${i.force}/${i.readonly}`;
      kinds.set(kind, [...(kinds.get(kind) ?? []), i]);
    }
    for (const group of kinds.values()) {
      if (group.length === 1) {
        await byName(group[0]);
        continue;
      }
      const names = group.map((i) => i.pool);
      const dirs = group.map((i) => i.dir);
      const found = await this.importableIn(dirs).catch(() => null);
      const exactly = found !== null && found.length === names.length && names.every((n) => found.filter((f) => f.name === n && f.state === 'ONLINE').length === 1);
      if (!exactly) {
        const seen = found ? found.map((f) => `${f.name} (${f.state})`).join(', ') || 'none' : 'the scan failed';
        this.logger.warn(`importing ${names.join(', ')} one by one: their disks hold ${seen}, not exactly those pools`);
        for (const i of group) await byName(i);
        continue;
      }
      let failed: unknown = null;
      try {
        await this.run(zpool.importAll(dirs, group[0].force, group[0].readonly));
      } catch (err) {
        failed = err;
      }
      // the pools as listed after the command: each import's own look at its pool (no list of its own)
      const listed = new Map((await this.poolLists.get()).map((p) => [p.name, p]));
      const imported = group.filter((i) => listed.has(i.pool));
      if (imported.length > 0) this.logger.log(`${imported.length} pools imported in one command: ${imported.map((i) => i.pool).join(', ')}`);
      for (const i of group) {
        if (!listed.has(i.pool)) await byName(i);
        // imported, a mount refused (the caller mounts what it can and says what it cannot)
        else if (failed && /cannot mount/i.test(wordsOf(failed))) results.set(i, { status: 'rejected', reason: failed });
        else results.set(i, { status: 'fulfilled', value: listed.get(i.pool) });
      }
    }
    return items.map((i) => results.get(i)!);
  }

  private async importScanned(req: HostOpParsed<'pool.import'>, readonly: boolean): Promise<Imported> {
    const found = await this.importableOne(req.pool);
    // only the disks of the pool the scan found: the import reads their labels, not every disk's
    const links = await this.linkDevices(req.pool, found);
    await this.poolConfig.run('config', async () => this.run(zpool.import(req.pool, links ?? (await this.deviceDirs()), req.force, readonly)));
    return { ...(links ? { devices: found.devices } : {}), hinted: false };
  }

  /**
   * The disks of an imported, healthy pool as `zpool status` names them (the links of its import
   * followed), when every one is a disk in this node's disk directories; null otherwise.
   */
  private async importedDevices(pool: string): Promise<string[] | null> {
    try {
      const status = await this.poolStatus(pool);
      if (status.state !== 'ONLINE') return null;
      const below = status.vdevs.slice(1);
      const leaves = below.filter((v, i) => i + 1 >= below.length || below[i + 1].depth <= v.depth);
      if (leaves.length === 0 || !leaves.every((v) => v.name.startsWith('/'))) return null;
      // the links an import made point at the disks as the scan found them
      const disks = await Promise.all(leaves.map((v) => (v.name.startsWith(`${this.importLinksDir}/`) ? readlink(v.name) : v.name)));
      return await this.usableHint(disks);
    } catch (err) {
      this.logger.debug(`${pool}: where its disks are not known (${(err as Error).message})`);
      return null;
    }
  }

  /**
   * The disks a request names, when every one is in this node's disk directories and there; null
   * otherwise (a record written on a node whose disks are named differently, or a disk gone).
   */
  private async usableHint(devices: readonly string[]): Promise<string[] | null> {
    if (!devices.every((d) => this.diskDirs().some((dir) => isUnder(d, dir)))) return null;
    const there = await Promise.all(devices.map(async (d) => (await stat(d).catch(() => null)) !== null));
    return there.every(Boolean) ? [...devices] : null;
  }

  /**
   * A mount-related command that may meet a mount still settling: zfs-fuse's `zfs set
   * canmount=on` unmounts and mounts a mounted filesystem again, and once in a while (right after
   * an import mounted it) that unmount answers busy. Tried again a few times before it counts.
   */
  private async busyRetried(argv: string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.run(argv);
        return;
      } catch (err) {
        if (!(err instanceof TandemError && err.code === ErrorCode.PoolBusy) || attempt >= 4) throw err;
        this.logger.warn(`${argv.join(' ')}: busy (${wordsOf(err).split('\n').pop()}); again in ${200 * attempt} ms`);
        await sleep(200 * attempt);
      }
    }
  }

  /**
   * Where the pool's filesystems are mounted on this node now, read from the kernel's mount table
   * (no ZFS command: share.start asks this on the takeover path). A mount left behind by a dead
   * ZFS daemon is listed too; callers that need a live one resolve it (see ShareConsumer).
   */
  async mountedPaths(pool: string): Promise<string[]> {
    return poolMountPoints(await readMountTable(), pool);
  }

  private async mountState(pool: string): Promise<FilesystemMountState[]> {
    return this.mountStates.push(pool);
  }

  /**
   * The mount state of pools asked for at once (a takeover's imports, done together), read in one
   * `zfs get`; those asked while one runs go together in the next. When the shared read fails (a
   * pool gone meanwhile fails the whole command), each pool is read alone, so one pool's error
   * is its own.
   */
  private readonly mountStates = new BatchQueue<string, FilesystemMountState[]>({
    max: 64,
    // a batch's imports ask at once, answered by one pool list
    gather: true,
    run: async (pools) => {
      const unique = [...new Set(pools)] as [string, ...string[]];
      const alone = (pool: string) => this.run(zfs.getMountState(pool)).then((r) => parseMountState(r.stdout));
      if (unique.length === 1) return Promise.allSettled(pools.map(alone));
      const all = await this.run(zfs.getMountState(...unique)).then(
        (r) => parseMountState(r.stdout),
        () => null,
      );
      if (!all) return Promise.allSettled(pools.map(alone));
      return pools.map((pool) => ({ status: 'fulfilled' as const, value: all.filter((f) => f.name === pool || f.name.startsWith(`${pool}/`)) }));
    },
  });

  /**
   * Make an imported pool what its role says (ZFS properties, so that it stays so; zfs-fuse has
   * no `zpool import -N`). True when anything had to change.
   * - serve: readonly off (inherited), canmount=on on every filesystem but the kept-aside copies
   *   below `<pool>/tandem-kept`, all of those mounted (parents first) and writable;
   * - replica: readonly=on on the pool's root (inherited below), canmount=noauto on every
   *   filesystem (canmount is not inherited), nothing mounted (children first), no share;
   * - retrieval: readonly on, canmount=on (but kept-aside copies), mounted read-only, no share.
   * Called under the pool's lock.
   */
  private async bringToRole(pool: string, role: HostOpParsed<'pool.import'>['role']): Promise<{ changed: boolean; mountpoint: string | null }> {
    let changed = false;
    // commands run; the mount state is read again only after one (a takeover usually runs none)
    let acts = 0;
    const act = async (argv: string[]) => {
      await this.busyRetried(argv);
      changed = true;
      acts++;
    };
    const kept = (name: string) => name === `${pool}/tandem-kept` || name.startsWith(`${pool}/tandem-kept/`);
    const depth = (p: string) => p.split('/').length;
    const parentsFirst = (a: FilesystemMountState, b: FilesystemMountState) => depth(a.mountpoint ?? '') - depth(b.mountpoint ?? '') || (a.mountpoint ?? '').localeCompare(b.mountpoint ?? '');
    const unmountAll = async (state: FilesystemMountState[]) => {
      for (const f of state.filter((x) => x.mounted).sort((a, b) => parentsFirst(b, a))) {
        try {
          await act(zfs.unmount(f.name));
        } catch (err) {
          throw new TandemError(ErrorCode.PoolBusy, `${pool}: ${f.name} could not be unmounted (something still uses ${f.mountpoint ?? 'it'}) on the way to ${role}`, 'pool', wordsOf(err));
        }
      }
    };
    const readonly = role !== 'serve';

    // never shared unless served
    if (role !== 'serve' && (await this.shares.stop({ pool })).changed) changed = true;

    // readonly: on the root, inherited below (a filesystem's own value is dropped)
    let state = await this.mountState(pool);
    let readAfter = acts;
    const fresh = async () => {
      if (acts !== readAfter) {
        state = await this.mountState(pool);
        readAfter = acts;
      }
      return state;
    };
    const root = state.find((f) => f.name === pool);
    const mountpoint = root?.mountpoint ?? null;
    if (root && root.readonly !== readonly) {
      await act(readonly ? zfs.setReadonly(pool, 'on') : zfs.inheritReadonly(pool));
      await fresh();
    }
    for (const f of state) {
      if (f.name === pool || f.readonly === readonly || (role === 'serve' && kept(f.name))) continue;
      await act(zfs.inheritReadonly(f.name));
    }

    // canmount, on each filesystem
    for (const f of state) {
      const want = role === 'replica' ? 'noauto' : kept(f.name) ? null : 'on';
      if (want && f.canmount !== want) await act(zfs.setCanmount(f.name, want));
    }

    await fresh();
    if (role === 'replica') {
      await unmountAll(state);
      return { changed, mountpoint };
    }
    // a mount made read-only by its mount option (an import for replica or retrieval) stays so
    // whatever readonly says: a served pool is mounted again
    if (role === 'serve' && state.some((f) => f.mountedReadOnly && !kept(f.name))) {
      await unmountAll(state);
      await fresh();
    }
    for (const f of state.filter((x) => !x.mounted && x.mountpoint !== null && x.canmount === 'on' && !kept(x.name)).sort(parentsFirst)) {
      try {
        await act(zfs.mount(f.name));
      } catch (err) {
        // a read-only parent cannot get a mountpoint directory it never had (a dataset received
        // while the copy was a replica): left unmounted, the rest is readable
        if (role === 'retrieval' && /failed to create mountpoint/i.test(wordsOf(err))) {
          this.logger.warn(`${pool}: ${f.name} not mounted for retrieval: its mountpoint ${f.mountpoint} cannot be made in its read-only parent`);
          continue;
        }
        throw err;
      }
    }
    return { changed, mountpoint };
  }

  /**
   * Imported, but a dataset would not mount: its mountpoint is still held by a dead mount of an
   * earlier import here (a fenced pool whose share did not let go in time). Detach those stale
   * mounts and mount again; if that fails too, the original error stands.
   */
  private async remountStale(pool: string, original: Error): Promise<void> {
    this.logger.warn(`${pool}: imported but not mounted (${original.message.trim()}); clearing stale mounts and mounting again`);
    const listed = await this.run(['zfs', 'list', '-H', '-o', 'mountpoint', '-r', pool], 10_000);
    for (const mp of listed.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('/'))) {
      await this.runner.run(['umount', '-l', mp], { timeoutMs: 5_000 }).catch(() => undefined);
    }
    try {
      await this.run(['zfs', 'mount', '-a'], 30_000);
    } catch {
      throw original;
    }
  }

  /**
   * The disk probe (see DiskProbeService), under the pool's lock so that it never races an
   * export ("pool is busy"); skipped while another operation on the pool runs. False: skipped.
   */
  async probePool(pool: string, timeoutMs: number): Promise<boolean> {
    if (this.locks.isBusy(this.lockOf(pool))) return false;
    await this.locks.run(this.lockOf(pool), () => this.run(zfs.probe(pool, Date.now()), timeoutMs));
    return true;
  }

  /** Export: the pool's shares are stopped first, so no share holds the pool; bounded in time. */
  exportPool(req: HostOpParsed<'pool.export'>, timeoutMs = this.cfg.exportTimeoutMs): Promise<HostOpResults['pool.export']> {
    return this.locks.run(this.lockOf(req.pool), async () => {
      if (!(await this.findPool(req.pool))) return { changed: false };
      await this.shares.stopPool(req.pool);
      await this.poolConfig.run('config', () => this.run(zpool.export(req.pool, req.force), timeoutMs));
      await rm(join(this.importLinksDir, req.pool), { recursive: true, force: true });
      this.logger.log(`exported ${req.pool}${req.force ? ' (forced)' : ''}`);
      return { changed: true };
    });
  }

  /**
   * The fence's export: forced, bounded, and outside the pool's lock — a fence must not wait
   * behind an operation that hangs on the same pool. A pool not imported here is already gone.
   */
  async fenceExport(pool: string, timeoutMs: number): Promise<void> {
    try {
      await this.run(zpool.export(pool, true), timeoutMs);
    } catch (err) {
      if ((err as TandemError).code === ErrorCode.PoolNotFound || /no such pool/i.test((err as Error).message)) return;
      throw err;
    }
  }

  /** For tests and the demo: a pool on sparse files in the shared or the local device directory. */
  createPool(req: HostOpParsed<'pool.create'>): Promise<HostOpResults['pool.create']> {
    return this.locks.run(this.lockOf(req.pool), async () => {
      const present = await this.findPool(req.pool);
      if (present) return { changed: false, pool: present };
      if ((await this.importable()).some((c) => c.name === req.pool)) {
        throw new TandemError(ErrorCode.AlreadyExists, `a pool named ${req.pool} already exists on the disks (importable): import it instead`, 'pool');
      }
      // shared: on the JBOD every node sees; local: on this node's own disks (a replicated pool's copy)
      const dir = req.disks === 'local' ? this.cfg.localDeviceDir : this.cfg.deviceDir;
      await mkdir(dir, { recursive: true });
      const paths: string[] = [];
      for (const v of req.vdevs) {
        const path = join(dir, v);
        const st = await stat(path).catch(() => null);
        if (!st) {
          const fh = await open(path, 'wx');
          await fh.truncate(req.sizeMiB * 1024 * 1024);
          await fh.close();
        } else if (!st.isFile()) {
          throw new TandemError(ErrorCode.InvalidArgument, `vdev ${v} exists and is not a file`, 'vdevs');
        }
        paths.push(path);
      }
      await this.run(zpool.create(req.pool, paths, req.mountpoint));
      const now = await this.findPool(req.pool);
      if (!now) throw new TandemError(ErrorCode.CommandFailed, `zpool create ${req.pool} reported success but the pool is not listed`);
      return { changed: true, pool: now };
    });
  }

  destroyPool(req: HostOpParsed<'pool.destroy'>): Promise<HostOpResults['pool.destroy']> {
    return this.locks.run(this.lockOf(req.pool), async () => {
      if (!(await this.findPool(req.pool))) return { changed: false };
      await this.shares.stopPool(req.pool);
      await this.run(zpool.destroy(req.pool, req.force));
      return { changed: true };
    });
  }

  async listDatasets(root: string): Promise<DatasetInfo[]> {
    return datasetsFromGet((await this.run(zfs.getDatasets(root))).stdout);
  }

  /** A filesystem (kept when there); `mode`: its mountpoint's permission bits afterwards (octal). */
  createDataset(dataset: string, mode?: string): Promise<HostOpResults['dataset.create']> {
    return this.locks.run(this.lockOf(dataset), async () => {
      const existed = (await this.listDatasets(dataset).catch(() => [])).some((d) => d.name === dataset);
      if (!existed) await this.run(zfs.create(dataset));
      if (mode !== undefined) {
        const mountpoint = (await this.listDatasets(dataset)).find((d) => d.name === dataset)?.mountpoint;
        if (!mountpoint?.startsWith('/')) throw new TandemError(ErrorCode.InvalidArgument, `${dataset} is not mounted: its permissions cannot be set`, 'mode');
        await chmod(mountpoint, Number.parseInt(mode, 8));
      }
      return { changed: !existed || mode !== undefined };
    });
  }

  async listSnapshots(dataset: string, recursive: boolean): Promise<SnapshotInfo[]> {
    return snapshotsFromGet((await this.run(zfs.getSnapshots(dataset))).stdout, recursive ? undefined : dataset);
  }

  async getSnapshot(snapshot: string): Promise<SnapshotInfo | null> {
    try {
      return snapshotsFromGet((await this.run(zfs.getSnapshot(snapshot))).stdout)[0] ?? null;
    } catch (err) {
      if (err instanceof TandemError && err.code === ErrorCode.DatasetNotFound) return null;
      throw err;
    }
  }

  createSnapshot(req: HostOpParsed<'snapshot.create'>): Promise<HostOpResults['snapshot.create']> {
    const full = `${req.dataset}@${req.name}`;
    return this.locks.run(this.lockOf(full), async () => {
      const existing = await this.getSnapshot(full);
      if (existing) return { changed: false, snapshot: existing };
      await this.run(zfs.snapshot(req.dataset, req.name, req.recursive));
      const snap = await this.getSnapshot(full);
      if (!snap) throw new TandemError(ErrorCode.CommandFailed, `snapshot ${full} was not created`);
      return { changed: true, snapshot: snap };
    });
  }

  destroySnapshot(snapshot: string): Promise<HostOpResults['snapshot.destroy']> {
    return this.locks.run(this.lockOf(snapshot), async () => {
      const snap = await this.getSnapshot(snapshot);
      if (!snap) return { changed: false };
      if (snap.userrefs > 0) {
        throw new TandemError(ErrorCode.PoolBusy, `snapshot ${snapshot} has ${snap.userrefs} hold(s): release them first`, 'snapshot');
      }
      await this.run(zfs.destroySnapshot(snapshot));
      return { changed: true };
    });
  }

  hold(snapshot: string, tag: string): Promise<HostOpResults['snapshot.hold']> {
    return this.locks.run(this.lockOf(snapshot), async () => {
      let changed = true;
      try {
        await this.run(zfs.hold(snapshot, tag));
      } catch (err) {
        if (!(err instanceof TandemError && err.code === ErrorCode.AlreadyExists)) throw err;
        changed = false;
      }
      return { changed, userrefs: (await this.getSnapshot(snapshot))?.userrefs ?? 0 };
    });
  }

  release(snapshot: string, tag: string): Promise<HostOpResults['snapshot.release']> {
    return this.locks.run(this.lockOf(snapshot), async () => {
      let changed = true;
      try {
        await this.run(zfs.release(snapshot, tag));
      } catch (err) {
        if (!(err instanceof TandemError && err.code === ErrorCode.NotFound)) throw err;
        changed = false;
      }
      const snap = await this.getSnapshot(snapshot);
      if (!snap) throw new TandemError(ErrorCode.SnapshotNotFound, `snapshot ${snapshot} does not exist`, 'snapshot');
      return { changed, userrefs: snap.userrefs };
    });
  }
}
