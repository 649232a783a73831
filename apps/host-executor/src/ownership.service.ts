import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageType, type KV, type NatsConnection } from 'nats';
import {
  ErrorCode,
  Events,
  FAILOVER_TIMINGS as T,
  OWNERSHIP_BUCKET,
  POOLS_BUCKET,
  TandemError,
  healthSubject,
  ownershipKey,
  type FloatingIp,
  type HaPool,
} from '@tandem/contracts';
import { peerConfirms } from '@tandem/domain';
import { EventPublisher, bindKv, followKv } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { zpool } from '@tandem/zfs';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { NetworkService } from './network.service';
import { ShareService } from './share.service';
import { ZfsService } from './zfs.service';

/** A managed pool this node runs: recorded when it imports it (and adds its IPs) under an epoch, and from the replicated records. */
interface Held {
  epoch: number;
  vips: FloatingIp[];
}

const now = () => performance.now();
const within = <R>(ms: number, p: Promise<R>): Promise<R> =>
  Promise.race([p, new Promise<R>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);

/**
 * The node's ownership lease and its self-fencing (DESIGN: the safety invariant).
 *
 * Several times a second this node renews `node.<id>` in the ownership bucket, which lives on
 * the witness alone: an acknowledged renewal proves the node still reaches the tie-breaker. A
 * node whose last acknowledged renewal was *sent* more than `fenceAfterMs` ago, and that no
 * peer confirms hearing recently enough (the echo in the peers' heartbeats), stops every
 * managed pool it runs at once: floating IPs down, shares down, a forced export bounded in
 * time, and the harder fence when that does not finish. A peer takes a pool over only after
 * seeing the lease unchanged for longer than all of that takes.
 *
 * Until the witness has been reached once (a cluster without one) the node never fences, and
 * nobody takes its pools over automatically either.
 */
@Injectable()
export class OwnershipService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ownership');
  private readonly dir: string;
  private kv: KV | null = null;
  private nc!: NatsConnection;
  private armed: boolean;
  private lastAckedSentAt = -Infinity;
  private seq = Date.now();
  private held = new Map<string, Held>();
  /** When this node last imported each pool (a fence lets go only of what it saw). */
  private readonly importedAt = new Map<string, number>();
  private fencing = false;
  /** The pools kept on disk were checked against what is imported (once, at start). */
  private reconciled = false;
  private keeping: string | null = null;
  private stopped = false;
  private timers: NodeJS.Timeout[] = [];
  private watching = false;
  private noWitnessLogged = false;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
    private readonly zfs: ZfsService,
    private readonly net: NetworkService,
    private readonly shares: ShareService,
    private readonly events: EventPublisher,
  ) {
    this.dir = join(ctx.config.stateDir, 'ownership');
    mkdirSync(this.dir, { recursive: true });
    this.armed = existsSync(join(this.dir, 'witness-seen'));
    try {
      this.held = new Map(Object.entries(JSON.parse(readFileSync(join(this.dir, 'held.json'), 'utf8')) as Record<string, Held>));
    } catch {
      /* none yet */
    }
  }

  onModuleInit(): void {
    this.nc = this.ctx.nc;
    void this.forgetWhatIsNotImported();
    void this.renewLoop();
    this.timers.push(setInterval(() => void this.fenceCheck(), 100));
    void this.watchPools();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
  }

  /** Is this node's lease fresh (or is there no witness to hold one)? */
  fresh(): boolean {
    return !this.armed || now() - this.lastAckedSentAt < T.fenceAfterMs;
  }

  /** Refuse to take a pool under the cluster's authority while the lease is not fresh. */
  requireFresh(pool: string): void {
    if (this.fresh()) return;
    throw new TandemError(
      ErrorCode.Unavailable,
      `pool ${pool}: this node's ownership lease is not fresh (the witness has not acknowledged a renewal for ${Math.round(now() - this.lastAckedSentAt)} ms), so it may not take pools; check its admin network and the witness`,
      'pool',
    );
  }

  /** The managed pools this node runs (imported here under an epoch). */
  heldPools(): string[] {
    return [...this.held.keys()];
  }

  view() {
    return {
      armed: this.armed,
      fresh: this.fresh(),
      lastRenewalMsAgo: Number.isFinite(this.lastAckedSentAt) ? Math.round(now() - this.lastAckedSentAt) : null,
      held: [...this.held.keys()],
    };
  }

  private async bucket(): Promise<KV> {
    if (this.kv) return this.kv;
    const js = this.nc.jetstream({ timeout: 2_000 });
    this.kv = await js.views.kv(OWNERSHIP_BUCKET.bucket, {
      description: OWNERSHIP_BUCKET.description,
      history: OWNERSHIP_BUCKET.history,
      replicas: OWNERSHIP_BUCKET.replicas,
      storage: OWNERSHIP_BUCKET.memory ? StorageType.Memory : StorageType.File,
      placement: { cluster: '', tags: OWNERSHIP_BUCKET.placementTags ?? [] },
    });
    // renewals with a short timeout of their own
    this.kv = await bindKv(this.nc, OWNERSHIP_BUCKET.bucket, T.renewTimeoutMs);
    return this.kv;
  }

  /** One renewal; true when the witness acknowledged it. */
  private async renew(): Promise<boolean> {
    const sentAt = now();
    try {
      const kv = await this.bucket();
      await within(T.renewTimeoutMs + 50, kv.put(ownershipKey(this.ctx.config.nodeId), JSON.stringify({ node: this.ctx.config.nodeId, seq: ++this.seq })));
      if (sentAt > this.lastAckedSentAt) this.lastAckedSentAt = sentAt;
      if (!this.armed) {
        this.armed = true;
        writeFileSync(join(this.dir, 'witness-seen'), `${new Date().toISOString()}\n`);
        this.logger.log('ownership lease held on the witness: self-fencing armed');
      }
      return true;
    } catch (err) {
      const m = String((err as Error).message);
      if (/no suitable peers|insufficient resources|placement/i.test(m)) {
        this.kv = null;
        if (!this.noWitnessLogged) this.logger.warn(`no witness (no NATS server tagged for the ownership leases: ${m}); automatic failover is declined`);
        this.noWitnessLogged = true;
      }
      return false;
    }
  }

  private async renewLoop(): Promise<void> {
    while (!this.stopped) {
      const started = now();
      await this.renew();
      await new Promise((r) => setTimeout(r, Math.max(0, T.renewMs - (now() - started))));
    }
  }

  /** The managed pools this node runs, followed from the replicated records (kept on disk). */
  /**
   * The pool records complete what this node recorded itself (the floating IPs of a pool it
   * runs). A pool is let go of only when it is not imported here any more: a record that says
   * another node runs it while it is still imported here (an export that failed) keeps it held,
   * so a fence would still release it.
   */
  private async watchPools(): Promise<void> {
    if (this.watching) return;
    this.watching = true;
    await followKv(
      this.nc,
      POOLS_BUCKET.bucket,
      'pool.*',
      (key, value) => {
        const name = key.slice('pool.'.length);
        const rec = value ? (JSON.parse(value) as HaPool) : null;
        if (rec && rec.node === this.ctx.config.nodeId && rec.state !== 'inactive') void this.holdIfHere(name, rec);
        else if (this.held.has(name)) void this.releaseUnlessImported(name);
      },
      { stopped: () => this.stopped, retryMs: 2_000, reopenEveryMs: 30_000, onError: (err) => this.logger.debug(`pool records watch: ${err.message}; again in 2 s`) },
    );
  }

  /**
   * After a reboot nothing is imported (pools never come back from a cache), whatever the list
   * kept on disk says: fencing those would only find nothing to export — or, had the harder
   * fence followed, kill a daemon that holds nothing. A restarted host-executor on a running
   * node keeps what is still imported. When ZFS does not answer yet, everything is kept.
   */
  private async forgetWhatIsNotImported(): Promise<void> {
    try {
      if (this.held.size === 0) return;
      const imported = await within(1_000, this.zfs.listPools()).catch(() => null);
      if (!imported) return;
      for (const name of [...this.held.keys()]) {
        if (!imported.some((p) => p.name === name) && !this.importedAt.has(name)) {
          this.logger.log(`pool ${name}: not imported here (this node rebooted, or it was exported meanwhile): nothing of it to fence`);
          this.release(name);
        }
      }
    } finally {
      this.reconciled = true;
    }
  }

  /** A record says this node runs `rec`: held (with its IPs) if it is imported here — a record of a pool this node lost in a reboot is not a pool to fence. */
  private async holdIfHere(name: string, rec: HaPool): Promise<void> {
    if (!this.held.has(name) && !(await this.zfs.findPool(name).catch(() => true))) return;
    this.hold(name, rec.epoch, rec.vips);
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

  private async releaseUnlessImported(name: string): Promise<void> {
    const here = await this.zfs.findPool(name).catch(() => 'unknown' as const);
    if (here === undefined) this.release(name);
    else if (here !== 'unknown') this.logger.warn(`pool ${name}: the records say another node runs it, but it is still imported here: it stays fenced by this node's lease`);
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
    const file = join(this.dir, 'held.json');
    writeFileSync(`${file}.tmp`, JSON.stringify(Object.fromEntries(this.held)));
    renameSync(`${file}.tmp`, file);
  }

  /** Does a peer confirm hearing one of our heartbeats recent enough that it cannot declare us down before we would fence? */
  private async confirmedByPeer(): Promise<string | null> {
    const t0 = now();
    try {
      const msg = await this.nc.request(healthSubject(this.ctx.config.nodeId, 'heartbeat'), new Uint8Array(0), { timeout: T.renewTimeoutMs });
      const rtt = now() - t0;
      const v = JSON.parse(new TextDecoder().decode(msg.data)) as { timings?: { timeoutMs: number }; peers?: Array<{ peer: string; confirmedSentMsAgo: number | null }> };
      if (!v.timings) return null;
      const timeoutMs = v.timings.timeoutMs;
      return v.peers?.find((p) => peerConfirms(p.confirmedSentMsAgo === null ? null : p.confirmedSentMsAgo + rtt, timeoutMs))?.peer ?? null;
    } catch {
      return null;
    }
  }

  private lastTick = now();
  private async fenceCheck(): Promise<void> {
    const t = now();
    const lag = t - this.lastTick;
    this.lastTick = t;
    // this process was stalled (CPU starvation): renewals may be waiting unread; look again next tick
    if (lag > 400) return;
    if (this.stopped || this.fencing || !this.reconciled || !this.armed || this.held.size === 0) return;
    const staleFor = now() - this.lastAckedSentAt;
    if (staleFor < T.fenceAfterMs) {
      this.keeping = null;
      return;
    }
    this.fencing = true;
    try {
      // one last renewal and the peers' confirmation, at the same time
      const [renewed, peer] = await Promise.all([this.renew(), this.confirmedByPeer()]);
      if (renewed) return;
      if (peer) {
        if (this.keeping !== peer) this.logger.warn(`the witness has not acknowledged a renewal for ${Math.round(staleFor)} ms, but ${peer} confirms hearing this node: keeping its pools (${peer} cannot take them over)`);
        this.keeping = peer;
        return;
      }
      await this.fence(Math.round(staleFor));
    } finally {
      this.fencing = false;
    }
  }

  /** Stop every managed pool here: IPs down, then shares, then a bounded forced export, then harder. */
  private async fence(staleForMs: number): Promise<void> {
    const started = now();
    const pools = [...this.held.entries()];
    this.logger.error(`lost the ownership lease (${staleForMs} ms without the witness, no peer confirms this node): fencing ${pools.map(([p]) => p).join(', ')}`);
    await Promise.all(
      pools.flatMap(([, h]) => h.vips.map((v) => within(200, this.net.remove({ interface: v.interface, address: v.address, prefix: v.prefix })).catch((err) => this.logger.error(`fence: ${v.address} down failed: ${(err as Error).message}`)))),
    );
    await Promise.all(pools.map(([p]) => within(300, this.shares.stopPool(p)).catch((err) => this.logger.error(`fence: shares of ${p}: ${(err as Error).message}`))));
    type Released = 'exported' | 'hard-fence' | 'failed';
    const results: Array<{ pool: string; epoch: number; released: Released; error: string | null }> = await Promise.all(
      pools.map(async ([p, h]) => {
        try {
          await this.zfs.run(zpool.export(p, true), T.exportBoundMs);
          return { pool: p, epoch: h.epoch, released: 'exported' as Released, error: null };
        } catch (err) {
          const m = (err as Error).message;
          // not imported here (any more): nothing to release
          if ((err as TandemError).code === ErrorCode.PoolNotFound || /no such pool/i.test(m)) return { pool: p, epoch: h.epoch, released: 'exported' as Released, error: null };
          return { pool: p, epoch: h.epoch, released: 'failed' as Released, error: m };
        }
      }),
    );
    if (results.some((r) => r.released === 'failed')) {
      const hard = await this.hardFence();
      for (const r of results) if (r.released === 'failed' && hard) r.released = 'hard-fence';
    }
    for (const r of results) {
      // imported again while this fence ran (it found nothing to export): still held, fenced next tick
      if ((this.importedAt.get(r.pool) ?? -Infinity) < started) this.release(r.pool);
      this.logger.error(`fenced ${r.pool}: ${r.released}${r.error ? ` (${r.error})` : ''}`);
      void this.announce(r.pool, { node: this.ctx.config.nodeId, epoch: r.epoch, released: r.released, error: r.error });
    }
  }

  get hardFenceMode(): HostExecutorConfig['hardFence'] {
    return this.cfg.hardFence;
  }

  /**
   * The harder fence: the pools must not stay imported here. True when they are gone (the
   * userspace ZFS daemon killed); a reboot does not return.
   */
  async hardFence(why = 'a pool could not be released in time'): Promise<boolean> {
    this.logger.error(`hard fence (${this.cfg.hardFence}): ${why}`);
    switch (this.cfg.hardFence) {
      case 'kill-zfs-daemon': {
        try {
          const pid = Number(readFileSync(this.cfg.zfsDaemonPidFile, 'utf8').trim());
          process.kill(pid, 'SIGKILL');
          this.logger.error(`hard fence: killed the ZFS daemon (pid ${pid}); its pools are gone from this node`);
          return true;
        } catch (err) {
          this.logger.error(`hard fence: could not kill the ZFS daemon (${this.cfg.zfsDaemonPidFile}): ${(err as Error).message}`);
          return false;
        }
      }
      case 'reboot':
        this.logger.error('hard fence: rebooting this node now');
        await writeFile('/proc/sys/kernel/sysrq', '1').catch(() => undefined);
        await writeFile('/proc/sysrq-trigger', 'b').catch((err) => this.logger.error(`hard fence: reboot failed: ${(err as Error).message}`));
        return false;
      case 'none':
        this.logger.error('hard fence disabled (TANDEM_HARD_FENCE=none): the pool may still be imported here');
        return false;
    }
  }

  /** The fence is told once the cluster can hear it again (retried for a while). */
  private async announce(pool: string, data: { node: string; epoch: number; released: 'exported' | 'hard-fence' | 'failed'; error: string | null }): Promise<void> {
    for (let i = 0; i < 60 && !this.stopped; i++) {
      try {
        await this.events.publish(Events.poolFenced, pool, data);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 2_000));
      }
    }
  }
}
