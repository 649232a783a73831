import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { join } from 'node:path';
import { z } from 'zod';
import { POOL_RECORD, floatingIpSchema, type FloatingIp, type HaPool } from '@tandem/contracts';
import { followRecords } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { jsonWith, readStateFile, writeStateFile } from '@tandem/config';
import { withTimeout } from '@tandem/util';
import { ZfsService } from '../zfs.service';

/** A managed pool this node runs, and the floating IPs it brought up for it. */
const heldSchema = z.record(z.object({ epoch: z.number().int().min(0), vips: z.array(floatingIpSchema) }));
export type Held = z.infer<typeof heldSchema>[string];

const now = () => performance.now();

/**
 * The managed pools this node runs — what its fence must stop. A pool is held from the moment the
 * node imports it under an epoch (and each floating IP from the moment it is up), whatever the
 * replicated records say, until it is exported here. The records complete it (the floating IPs of
 * a pool this node runs), and let go of a pool only once it is no longer imported here: a record
 * that says another node runs a pool still imported here (an export that failed) keeps it held,
 * so a fence would still release it. Kept on disk across restarts of the service.
 */
@Injectable()
export class HeldPools implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('held-pools');
  private readonly file: string;
  private held = new Map<string, Held>();
  /** When this node last imported each pool (a fence lets go only of what it saw). */
  private readonly importedAt = new Map<string, number>();
  private reconciledNow = false;
  private stopped = false;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: Pick<ServiceContext, 'config' | 'nc'>,
    @Inject(ZfsService) private readonly zfs: Pick<ZfsService, 'listPools' | 'findPool'>,
  ) {
    this.file = join(ctx.config.stateDir, 'ownership', 'held.json');
    // absent: nothing held yet. There but unreadable: the service stops — starting with an empty
    // list would leave a pool still imported here unfenced
    const kept = readStateFile(this.file, {
      what: 'the list of pools this node runs',
      ifRemoved: 'this node would not fence a pool still imported here that the records do not name; remove it only when `zpool list` on this node shows no managed pool',
      parse: jsonWith(heldSchema),
    });
    this.held = new Map(Object.entries(kept ?? {}));
  }

  onModuleInit(): void {
    void this.forgetWhatIsNotImported();
    void followRecords(this.ctx.nc, POOL_RECORD, (name, rec) => this.recordChanged(name, rec), {
      stopped: () => this.stopped,
      retryMs: 2_000,
      reopenEveryMs: 30_000,
      onError: (err) => this.logger.debug(`pool records watch: ${err.message}; again in 2 s`),
    });
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  /** The pools kept on disk were checked against what is imported (once, at start). */
  get reconciled(): boolean {
    return this.reconciledNow;
  }

  get size(): number {
    return this.held.size;
  }

  names(): string[] {
    return [...this.held.keys()];
  }

  entries(): Array<[string, Held]> {
    return [...this.held.entries()].map(([p, h]) => [p, { epoch: h.epoch, vips: [...h.vips] }]);
  }

  /** This node imported `pool` under `epoch` (called before the import is answered). */
  imported(pool: string, epoch: number): void {
    this.importedAt.set(pool, now());
    this.hold(pool, epoch, []);
  }

  /** This node brought up a floating IP of `pool` under `epoch`. */
  ipAdded(pool: string, epoch: number, vip: FloatingIp): void {
    this.hold(pool, epoch, [vip]);
  }

  /** This node exported `pool`: nothing of it is left here to fence. */
  exported(pool: string): void {
    this.release(pool);
  }

  /** A fence that began at `startedAt` released `pool` — unless it was imported again meanwhile (held still: fenced next tick). */
  fenced(pool: string, startedAt: number): void {
    if ((this.importedAt.get(pool) ?? -Infinity) < startedAt) this.release(pool);
  }

  /** A pool record changed (or was deleted: null). */
  async recordChanged(name: string, rec: HaPool | null): Promise<void> {
    if (rec && rec.node === this.ctx.config.nodeId && rec.state !== 'inactive') {
      // a record of a pool this node lost in a reboot is not a pool to fence
      if (!this.held.has(name) && !(await this.zfs.findPool(name).catch(() => true))) return;
      this.hold(name, rec.epoch, rec.vips);
    } else if (rec && (this.held.get(name)?.epoch ?? -1) > rec.epoch) {
      // a record older than this node's own import of the pool (the record of a failover to
      // this node written before its import, delivered late): it says nothing about what runs
      // here now — letting go on its word would leave a served pool unfenced
      return;
    } else if (this.held.has(name) && rec?.mode === 'replicated') {
      // a replicated pool served elsewhere: this node's copy is a replica (or kept for
      // retrieval), imported but never served — nothing to fence
      this.release(name);
    } else if (this.held.has(name)) {
      const here = await this.zfs.findPool(name).catch(() => 'unknown' as const);
      if (here === undefined) this.release(name);
      else if (here !== 'unknown') this.logger.warn(`pool ${name}: the records say another node runs it, but it is still imported here: it stays fenced by this node's lease`);
    }
  }

  /**
   * After a reboot nothing is imported (pools never come back from a cache), whatever the list
   * kept on disk says: fencing those would only find nothing to export — or, had the harder
   * fence followed, kill a daemon that holds nothing. A restarted host-executor on a running
   * node keeps what is still imported. When ZFS does not answer yet, everything is kept.
   */
  async forgetWhatIsNotImported(): Promise<void> {
    try {
      if (this.held.size === 0) return;
      const imported = await withTimeout(this.zfs.listPools(), 1_000, 'zpool list did not answer').catch(() => null);
      if (!imported) return;
      for (const name of [...this.held.keys()]) {
        if (!imported.some((p) => p.name === name) && !this.importedAt.has(name)) {
          this.logger.log(`pool ${name}: not imported here (this node rebooted, or it was exported meanwhile): nothing of it to fence`);
          this.release(name);
        }
      }
    } finally {
      this.reconciledNow = true;
    }
  }

  /** Hold `name` at `epoch` with (at least) `vips`: a newer epoch starts afresh, the same epoch adds. */
  private hold(name: string, epoch: number, vips: FloatingIp[]): void {
    const prev = this.held.get(name);
    if (prev && prev.epoch > epoch) return;
    const merged = prev && prev.epoch === epoch ? [...prev.vips, ...vips.filter((v) => !prev.vips.some((p) => p.address === v.address && p.interface === v.interface))] : vips;
    if (prev && prev.epoch === epoch && merged.length === prev.vips.length) return;
    this.held.set(name, { epoch, vips: merged });
    this.persist();
  }

  private release(name: string): void {
    if (this.held.delete(name)) this.persist();
  }

  private persist(): void {
    writeStateFile(this.file, JSON.stringify(Object.fromEntries(this.held)));
  }
}
