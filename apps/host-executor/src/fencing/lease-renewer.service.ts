import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, FAILOVER_TIMINGS as T, OWNERSHIP_BUCKET, OWNERSHIP_LEASE_RECORD, TandemError, type OwnershipLease } from '@tandem/contracts';
import { KvRecordStore, provisionKv } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { Metrics } from '@tandem/telemetry';
import { withTimeout } from '@tandem/util';

const now = () => performance.now();

/**
 * How long an acknowledgement is waited for. One that comes later than the peers' takeover delay
 * could keep nothing (the renewal it answers is stale by then); any earlier one counts, late or not.
 */
const ACK_USEFUL_MS = T.takeoverAfterMs;
/** Renewals out at once: enough to keep sending on the beat for as long as an answer is waited for. */
const MAX_IN_FLIGHT = Math.ceil(ACK_USEFUL_MS / T.renewMs) + 1;
/** A late acknowledgement is logged at most this often. */
const LATE_LOG_EVERY_MS = 10_000;

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
  private declaring: Promise<unknown> | null = null;
  private lateLoggedAt = -Infinity;

  constructor(@Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext) {
    const dir = join(ctx.config.stateDir, 'ownership');
    mkdirSync(dir, { recursive: true });
    this.armedFile = join(dir, 'witness-seen');
    this.armedNow = existsSync(this.armedFile);
    // the JetStream client's own timeout: as long as an acknowledgement is of use
    this.leases = new KvRecordStore(ctx.nc, OWNERSHIP_LEASE_RECORD, ACK_USEFUL_MS);
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

  /** One renewal; true when the witness acknowledged it (late or not). */
  async renewOnce(): Promise<boolean> {
    const sentAt = now();
    const node = this.ctx.config.nodeId;
    try {
      if (!this.declared) {
        // the bucket can exist only where a server carries the witness tag; one declaration at a time
        this.declaring ??= provisionKv(this.ctx.nc, [OWNERSHIP_BUCKET], 2_000).finally(() => (this.declaring = null));
        await this.declaring;
        this.declared = true;
      }
      await withTimeout(this.leases.overwrite(node, { node, seq: ++this.seq }), ACK_USEFUL_MS, `no acknowledgement within ${ACK_USEFUL_MS} ms`);
      const tookMs = now() - sentAt;
      Metrics.leaseRenewalSeconds().observe(tookMs / 1000);
      if (sentAt > this.lastAckedSentAt) this.lastAckedSentAt = sentAt;
      if (tookMs > T.renewTimeoutMs && now() - this.lateLoggedAt > LATE_LOG_EVERY_MS) {
        this.lateLoggedAt = now();
        this.logger.warn(`the witness acknowledged a lease renewal after ${Math.round(tookMs)} ms (fencing after ${T.fenceAfterMs} ms without one): check the admin network and the witness's load`);
      }
      if (!this.armedNow) {
        this.armedNow = true;
        writeFileSync(this.armedFile, `${new Date().toISOString()}\n`);
        this.logger.log('ownership lease held on the witness: self-fencing armed');
      }
      return true;
    } catch (err) {
      Metrics.leaseRenewalsUnacknowledged().inc();
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

  /**
   * A renewal every `renewMs`, whether or not the ones before were answered yet: a witness (or a
   * network) that answers late still has every renewal, and the newest one it acknowledged keeps
   * the lease from the moment it was sent. Waiting for each answer before sending the next made one
   * slow answer cost several renewals. At most MAX_IN_FLIGHT at a time.
   */
  private async loop(): Promise<void> {
    Metrics.leaseRenewalSeconds();
    Metrics.leaseRenewalsUnacknowledged(); // there (at 0) from the start
    let inFlight = 0;
    let next = now();
    while (!this.stopped) {
      if (inFlight < MAX_IN_FLIGHT) {
        inFlight++;
        void this.renewOnce().finally(() => inFlight--);
      }
      // on the beat, not drifting after a late turn of the event loop
      next = Math.max(next + T.renewMs, now());
      await new Promise((r) => setTimeout(r, next - now()));
    }
  }
}
