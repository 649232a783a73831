import { Inject, Injectable, Logger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, TandemError, type HostOpParsed, type HostOpResults, type IscsiTargetInfo } from '@tandem/contracts';
import { lunIdentity, poolIqn, type FcNode } from '@tandem/domain';
import { type IscsiTargetSpec } from '@tandem/shares';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { IscsiTargets } from './iscsi-targets.service';
import { ZfsService } from './zfs.service';

/**
 * LUNs of pools and the pool's target. A LUN is backed by a zvol where this node's ZFS has
 * zvols (OpenZFS in the kernel), else by a sparse file in the pool (zfs-fuse has none): the
 * same code path either way, the backing found by what exists.
 */
@Injectable()
export class IscsiService {
  private readonly logger = new Logger('luns');

  constructor(
    private readonly targets: IscsiTargets,
    private readonly zfs: ZfsService,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
  ) {}

  /** Whether LUNs made here are zvols: TANDEM_LUN_BACKING, or (auto) whether ZFS runs in the kernel. */
  private zvols(): boolean {
    return this.cfg.lunBacking === 'zvol' || (this.cfg.lunBacking === 'auto' && existsSync('/sys/module/zfs'));
  }

  private zvolPath(pool: string, name: string): string {
    return `/dev/zvol/${pool}/${name}`;
  }

  /** The directory of the pool's file-backed LUNs (inside the pool's root filesystem). */
  private async fileDir(pool: string): Promise<string> {
    const root = (await this.zfs.listDatasets(pool)).find((d) => d.name === pool)?.mountpoint;
    const mounted = await this.zfs.mountedPaths(pool);
    if (!root || !mounted.includes(root)) throw new TandemError(ErrorCode.PoolNotFound, `pool ${pool} is not imported and mounted on this node: its LUNs cannot be reached here`, 'pool');
    return join(root, '.tandem', 'luns');
  }

  /** Where a LUN's backing is on this node, by what exists: its zvol, else its file. */
  private async backingOf(pool: string, name: string): Promise<{ backing: 'zvol' | 'file'; path: string } | null> {
    if (existsSync(this.zvolPath(pool, name))) return { backing: 'zvol', path: this.zvolPath(pool, name) };
    const file = join(await this.fileDir(pool), name);
    return existsSync(file) ? { backing: 'file', path: file } : null;
  }

  async create(req: HostOpParsed<'lun.create'>): Promise<HostOpResults['lun.create']> {
    const existing = await this.backingOf(req.pool, req.name);
    if (existing) {
      const size = existing.backing === 'file' ? (await stat(existing.path)).size : await this.volsize(req.pool, req.name);
      if (size !== req.sizeBytes)
        throw new TandemError(ErrorCode.AlreadyExists, `LUN ${req.name} of pool ${req.pool} exists with ${size} bytes, not ${req.sizeBytes}: remove it first or keep its size`, 'sizeBytes');
      return { changed: false, ...existing };
    }
    if (this.zvols()) {
      await this.zfs.run(['zfs', 'create', '-V', String(req.sizeBytes), `${req.pool}/${req.name}`]);
      const path = this.zvolPath(req.pool, req.name);
      const deadline = Date.now() + 10_000;
      while (!existsSync(path)) {
        if (Date.now() > deadline) throw new TandemError(ErrorCode.Internal, `zvol ${req.pool}/${req.name} was made but ${path} did not appear within 10 s (is udev running?)`);
        await new Promise((r) => setTimeout(r, 100));
      }
      this.logger.log(`LUN ${req.name} of ${req.pool}: zvol ${path}, ${req.sizeBytes} bytes`);
      return { changed: true, backing: 'zvol', path };
    }
    const dir = await this.fileDir(req.pool);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, req.name);
    // sparse: the pool gives it blocks as they are written
    const fh = await open(path, 'wx', 0o600);
    try {
      await fh.truncate(req.sizeBytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.logger.log(`LUN ${req.name} of ${req.pool}: file ${path}, ${req.sizeBytes} bytes`);
    return { changed: true, backing: 'file', path };
  }

  private async volsize(pool: string, name: string): Promise<number> {
    const out = (await this.zfs.run(['zfs', 'get', '-H', '-p', '-o', 'value', 'volsize', `${pool}/${name}`])).stdout.trim();
    return Number(out);
  }

  async destroy(req: HostOpParsed<'lun.destroy'>): Promise<HostOpResults['lun.destroy']> {
    const serving = (await this.targets.manager.list()).find((t) => t.pool === req.pool && t.running && t.luns.some((l) => l.name === req.name));
    if (serving) throw new TandemError(ErrorCode.InvalidArgument, `LUN ${req.name} of pool ${req.pool} is served by its target: take it out of the target first`, 'name');
    const existing = await this.backingOf(req.pool, req.name);
    if (!existing) return { changed: false };
    if (existing.backing === 'zvol') await this.zfs.run(['zfs', 'destroy', `${req.pool}/${req.name}`]);
    else await rm(existing.path, { force: true });
    this.logger.log(`LUN ${req.name} of ${req.pool} destroyed (${existing.path})`);
    return { changed: true };
  }

  async start(req: HostOpParsed<'iscsi.start'>): Promise<HostOpResults['iscsi.start']> {
    const clusterId = this.targets.clusterId;
    const luns: IscsiTargetSpec['luns'] = [];
    for (const l of req.luns) {
      const b = await this.backingOf(req.pool, l.name);
      if (!b)
        throw new TandemError(
          ErrorCode.NotFound,
          `LUN ${l.name} of pool ${req.pool} has no backing on this node (no zvol ${this.zvolPath(req.pool, l.name)}, no file in the pool): add it again with tandem pool lun add`,
          'luns',
        );
      luns.push({ ...lunIdentity(clusterId, req.pool, l), sizeBytes: l.sizeBytes, ...b });
    }
    const iqn = poolIqn(clusterId, req.pool);
    let changed = false;
    let running = false;
    let pid: number | undefined;
    if (req.addresses.length) {
      try {
        const r = await this.targets.manager.start({ pool: req.pool, iqn, addresses: req.addresses, luns, ...(req.chap ? { chap: req.chap } : {}) });
        changed = r.changed;
        running = r.status.running;
        pid = r.status.pid;
      } catch (err) {
        this.targets.map(err);
      }
    }
    let fc: IscsiTargetInfo['fc'] = null;
    if (req.fc) {
      const wwpns = await this.targets.wwpns();
      if (!wwpns.length)
        throw new TandemError(
          ErrorCode.InvalidArgument,
          `pool ${req.pool} is served over Fibre Channel but node ${this.targets.nodeId} has no FC target port (no /sys/class/fc_host, no TANDEM_FC_WWPNS)`,
          'fc',
        );
      const nodes: FcNode[] = (req.fcNodes ?? [this.targets.nodeId]).map((id) => ({ id, wwpns: id === this.targets.nodeId ? wwpns : [] }));
      try {
        fc = await this.targets.writeFc({
          clusterId,
          pool: req.pool,
          nodes,
          node: this.targets.nodeId,
          role: 'active',
          luns: luns.map((l) => ({ name: l.name, number: l.number, sizeBytes: l.sizeBytes, path: l.path })),
        });
      } catch (err) {
        this.targets.map(err);
      }
      changed = true;
    }
    if (changed)
      this.logger.log(
        `target ${iqn} of ${req.pool}: LUNs ${luns.map((l) => `${l.number}=${l.name}`).join(', ') || 'none'}${req.addresses.length ? ` on ${req.addresses.join(', ')}` : ''}${fc ? ', FC active' : ''}`,
      );
    const target: IscsiTargetInfo = { pool: req.pool, iqn, addresses: req.addresses, luns: luns.map(info), chap: req.chap !== undefined, running, fc };
    if (pid !== undefined) target.pid = pid;
    return { changed, target };
  }

  async stop(req: HostOpParsed<'iscsi.stop'>): Promise<HostOpResults['iscsi.stop']> {
    return { changed: await this.targets.stop(req.pool) };
  }

  async list(): Promise<HostOpResults['iscsi.list']> {
    const out: IscsiTargetInfo[] = [];
    for (const t of await this.targets.manager.list()) {
      const entry: IscsiTargetInfo = { pool: t.pool, iqn: t.iqn, addresses: t.addresses, luns: t.luns.map(info), chap: t.chap, running: t.running, fc: await this.targets.readFc(t.pool) };
      if (t.pid !== undefined) entry.pid = t.pid;
      out.push(entry);
    }
    return out;
  }
}

function info(l: IscsiTargetSpec['luns'][number]): IscsiTargetInfo['luns'][number] {
  return { name: l.name, number: l.number, sizeBytes: l.sizeBytes, serial: l.serial, deviceId: l.deviceId, backing: l.backing, path: l.path };
}
