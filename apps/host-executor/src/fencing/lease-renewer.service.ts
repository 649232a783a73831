import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, FAILOVER_TIMINGS as T, OWNERSHIP_BUCKET, OWNERSHIP_LEASE_RECORD, TandemError, type OwnershipLease } from '@tandem/contracts';
import { KvRecordStore, provisionKv } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { withTimeout } from '@tandem/util';

const now = () => performance.now();

/**
 * This node's ownership lease (DESIGN: the safety invariant). Several times a second it renews
 * `node.<id>` in the ownership bucket, which lives on the witness alone: an acknowledged renewal
 * proves the node still reaches the tie-breaker. What counts is when the newest acknowledged
 * renewal was *sent* (the fence and the peers' takeover are both measured from there).
 *
 * Until the witness has been reached once (a cluster without one) the lease is not `armed`: the
 * node never fences, and nobody takes its pools over automatically either. Once armed, it stays
 * armed across restarts (a file in the state directory).
 */
@Injectable()
export class LeaseRenewer implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ownership-lease');
  private readonly armedFile: string;
  private readonly leases: KvRecordStore<OwnershipLease>;
  private declared = false;
  private armedNow: boolean;
  private lastAckedSentAt = -Infinity;
  private seq = Date.now();
  private stopped = false;
  private noWitnessLogged = false;

  constructor(@Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext) {
    const dir = join(ctx.config.stateDir, 'ownership');
    mkdirSync(dir, { recursive: true });
    this.armedFile = join(dir, 'witness-seen');
    this.armedNow = existsSync(this.armedFile);
    // renewals with a short timeout of their own
    this.leases = new KvRecordStore(ctx.nc, OWNERSHIP_LEASE_RECORD, T.renewTimeoutMs);
  }

  onModuleInit(): void {
    void this.loop();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  /** Has a witness ever acknowledged a renewal of this node? */
  get armed(): boolean {
    return this.armedNow;
  }

  /** How long ago the newest acknowledged renewal was sent (Infinity: none yet). */
  sinceLastAckedRenewalSentMs(): number {
    return now() - this.lastAckedSentAt;
  }

  /** Is this node's lease fresh (or is there no witness to hold one)? */
  fresh(): boolean {
    return !this.armedNow || this.sinceLastAckedRenewalSentMs() < T.fenceAfterMs;
  }

  /** Refuse to take a pool under the cluster's authority while the lease is not fresh. */
  requireFresh(pool: string): void {
    if (this.fresh()) return;
    throw new TandemError(
      ErrorCode.Unavailable,
      `pool ${pool}: this node's ownership lease is not fresh (the witness has not acknowledged a renewal for ${Math.round(this.sinceLastAckedRenewalSentMs())} ms), so it may not take pools; check its admin network and the witness`,
      'pool',
    );
  }

  view(): { armed: boolean; fresh: boolean; lastRenewalMsAgo: number | null } {
    return { armed: this.armedNow, fresh: this.fresh(), lastRenewalMsAgo: Number.isFinite(this.lastAckedSentAt) ? Math.round(this.sinceLastAckedRenewalSentMs()) : null };
  }

  /** One renewal; true when the witness acknowledged it. */
  async renewOnce(): Promise<boolean> {
    const sentAt = now();
    const node = this.ctx.config.nodeId;
    try {
      if (!this.declared) {
        // the bucket can exist only where a server carries the witness tag
        await provisionKv(this.ctx.nc, [OWNERSHIP_BUCKET], 2_000);
        this.declared = true;
      }
      await withTimeout(this.leases.overwrite(node, { node, seq: ++this.seq }), T.renewTimeoutMs + 50, `no acknowledgement within ${T.renewTimeoutMs + 50} ms`);
      if (sentAt > this.lastAckedSentAt) this.lastAckedSentAt = sentAt;
      if (!this.armedNow) {
        this.armedNow = true;
        writeFileSync(this.armedFile, `${new Date().toISOString()}\n`);
        this.logger.log('ownership lease held on the witness: self-fencing armed');
      }
      return true;
    } catch (err) {
      const m = String((err as Error).message);
      if (/no suitable peers|insufficient resources|placement/i.test(m)) {
        this.declared = false;
        this.leases.reset();
        if (!this.noWitnessLogged) this.logger.warn(`no witness (no NATS server tagged for the ownership leases: ${m}); automatic failover is declined`);
        this.noWitnessLogged = true;
      }
      return false;
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const started = now();
      await this.renewOnce();
      await new Promise((r) => setTimeout(r, Math.max(0, T.renewMs - (now() - started))));
    }
  }
}
