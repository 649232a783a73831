import { Inject, Injectable, Logger } from '@nestjs/common';
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, TandemError, type DatasetInfo, type HostOpParsed, type HostOpResults, type ImportablePool, type PoolSummary, type SnapshotInfo } from '@tandem/contracts';
import { CommandFailedError, ProcessRunner, type CommandResult } from '@tandem/host';
import { KeyedMutex } from '@tandem/util';
import { datasetsFromGet, parseImportScan, parseZpoolList, parseZpoolStatus, snapshotsFromGet, suspendedPools, zfs, zfsError, zpool } from '@tandem/zfs';
import { EpochGuard } from './epoch-guard.service';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { ShareService } from './share.service';

/** Pools, datasets, snapshots and holds on this node's ZFS. One lock per pool. */
@Injectable()
export class ZfsService {
  private readonly logger = new Logger('zfs');
  readonly locks = new KeyedMutex();

  constructor(
    private readonly runner: ProcessRunner,
    private readonly epochs: EpochGuard,
    private readonly shares: ShareService,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
  ) {}

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
  async listPools(): Promise<PoolSummary[]> {
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

  async importable(): Promise<ImportablePool[]> {
    try {
      return parseImportScan((await this.run(zpool.scanImportable(this.cfg.deviceDir))).stdout);
    } catch (err) {
      // zpool import exits 1 with "no pools available to import"
      if (err instanceof TandemError && err.code === ErrorCode.CommandFailed && /^$|no pools available/i.test(err.detail ?? '')) return [];
      throw err;
    }
  }

  importPool(req: HostOpParsed<'pool.import'>): Promise<HostOpResults['pool.import']> {
    return this.locks.run(this.lockOf(req.pool), async () => {
      this.epochs.admit(req.pool, req.epoch);
      const present = await this.findPool(req.pool);
      if (present) return { changed: false, pool: present, epoch: req.epoch };
      const candidates = await this.importable();
      if (!candidates.some((c) => c.name === req.pool)) {
        throw new TandemError(ErrorCode.PoolNotImportable, `pool ${req.pool} is not importable from ${this.cfg.deviceDir}: no such pool on the disks this node sees`, 'pool');
      }
      try {
        await this.run(zpool.import(req.pool, this.cfg.deviceDir, req.force));
      } catch (err) {
        if (!/cannot mount/i.test((err as Error).message) || !(await this.findPool(req.pool))) throw err;
        await this.remountStale(req.pool, err as Error);
      }
      const now = await this.findPool(req.pool);
      if (!now) throw new TandemError(ErrorCode.CommandFailed, `zpool import ${req.pool} reported success but the pool is not listed`);
      this.logger.log(`imported ${req.pool}${req.force ? ' (forced)' : ''}${req.epoch !== undefined ? ` at epoch ${req.epoch}` : ''}`);
      return { changed: true, pool: now, epoch: req.epoch };
    });
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
      await this.run(zpool.export(req.pool, req.force), timeoutMs);
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

  /** For tests and the demo: a pool on sparse files in the device directory. */
  createPool(req: HostOpParsed<'pool.create'>): Promise<HostOpResults['pool.create']> {
    return this.locks.run(this.lockOf(req.pool), async () => {
      const present = await this.findPool(req.pool);
      if (present) return { changed: false, pool: present };
      if ((await this.importable()).some((c) => c.name === req.pool)) {
        throw new TandemError(ErrorCode.AlreadyExists, `a pool named ${req.pool} already exists on the disks (importable): import it instead`, 'pool');
      }
      await mkdir(this.cfg.deviceDir, { recursive: true });
      const paths: string[] = [];
      for (const v of req.vdevs) {
        const path = join(this.cfg.deviceDir, v);
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

  createDataset(dataset: string): Promise<HostOpResults['dataset.create']> {
    return this.locks.run(this.lockOf(dataset), async () => {
      if ((await this.listDatasets(dataset).catch(() => [])).some((d) => d.name === dataset)) return { changed: false };
      await this.run(zfs.create(dataset));
      return { changed: true };
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
