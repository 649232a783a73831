import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Events, FAILOVER_TIMINGS as T } from '@tandem/contracts';
import { FENCE_STALL_MS, confirmingPeer, mustFence, shouldVerify } from '@tandem/domain';
import { HeartbeatClient, OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { Metrics } from '@tandem/telemetry';
import { withTimeout } from '@tandem/util';
import { NetworkService } from '../network.service';
import { ShareService } from '../share.service';
import { ZfsService } from '../zfs.service';
import { HardFencer } from './hard-fencer.service';
import { HeldPools } from './held-pools.service';
import { LeaseRenewer } from './lease-renewer.service';

const now = () => performance.now();

/**
 * How long before the fence is due the peers' confirmation is asked, every look: longer than the
 * longest gap between two looks that is not a stall (FENCE_STALL_MS), so at least one ask is
 * out before the decision.
 */
export const CONFIRM_AHEAD_MS = FENCE_STALL_MS;

/** What the peers confirm of this node, as its heartbeat service reports it (null: it did not answer). */
export interface PeerConfirmations {
  heartbeatTimeoutMs: number;
  /** How long asking took (added to each echo's age: the echo is at least that old). */
  answerMs: number;
  peers: Array<{ peer: string; confirmedSentMsAgo: number | null }>;
}

/**
 * The self-fence (DESIGN: the safety invariant, rule 2). Every 100 ms it asks the rules
 * (`shouldVerify`, `mustFence` in libs/domain) whether this node must stop its pools: a node whose
 * newest acknowledged lease renewal was sent more than `fenceAfterMs` ago, and that no peer
 * confirms hearing recently enough, stops every managed pool it runs at once — floating IPs down,
 * shares down, a forced export bounded in time, and the harder fence when that does not finish.
 * A peer takes a pool over only after seeing the lease unchanged for longer than all of that.
 *
 * The decision waits for no renewal and no question: the lease renewer keeps renewing on its own,
 * and the peers' confirmation is asked of this node's heartbeat service in the background from
 * `CONFIRM_AHEAD_MS` before the fence is due, every look, so the newest answer is at hand when it
 * is. It does let what already came in be read first (one turn of the event loop). An answer is
 * aged by the time since it was asked (an echo it reports is at least that much older), so an
 * older answer can only confirm less. No answer at all: no peer is known to confirm this node.
 */
@Injectable()
export class SelfFenceService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('self-fence');
  private timer?: NodeJS.Timeout;
  private lastTick = now();
  private fencing = false;
  private keptBy: string | null = null;
  private stopped = false;
  /** The newest answer of the heartbeat service, and when it was asked for. */
  private asked: { view: Omit<PeerConfirmations, 'answerMs'>; at: number } | null = null;
  private asking = false;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: Pick<ServiceContext, 'config'>,
    @Inject(LeaseRenewer) private readonly lease: Pick<LeaseRenewer, 'armed' | 'sinceLastAckedRenewalSentMs'>,
    @Inject(HeldPools) private readonly held: Pick<HeldPools, 'reconciled' | 'size' | 'entries' | 'fenced'>,
    @Inject(HardFencer) private readonly hard: Pick<HardFencer, 'fence'>,
    @Inject(NetworkService) private readonly net: Pick<NetworkService, 'remove'>,
    @Inject(ShareService) private readonly shares: Pick<ShareService, 'stopPool'>,
    @Inject(ZfsService) private readonly zfs: Pick<ZfsService, 'fenceExport'>,
    @Inject(HeartbeatClient) private readonly heartbeat: Pick<HeartbeatClient, 'view'>,
    @Inject(OrderedEvents) private readonly events: Pick<OrderedEvents, 'publish'>,
  ) {}

  onModuleInit(): void {
    Metrics.fences(); // there (at 0 before the first fence) from the start
    this.timer = setInterval(() => void this.tick(), T.fenceTickMs);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** One check. Exposed for tests, which drive it with their own leases and pools. */
  async tick(): Promise<'keep' | 'stalled' | 'kept-by-renewal' | 'kept-by-peer' | 'fenced' | 'busy'> {
    const t = now();
    const lag = t - this.lastTick;
    this.lastTick = t;
    if (this.stopped || this.fencing) return 'busy';
    const stale = this.lease.sinceLastAckedRenewalSentMs();
    if (this.lease.armed && this.held.size > 0 && stale >= T.fenceAfterMs - CONFIRM_AHEAD_MS) this.askPeers();
    else this.asked = null;
    const check = shouldVerify({
      tickLagMs: lag,
      armed: this.lease.armed,
      reconciled: this.held.reconciled,
      heldPools: this.held.size,
      sinceLastAckedRenewalSentMs: stale,
    });
    if (check !== 'verify') {
      if (check === 'keep') this.keptBy = null;
      return check;
    }
    this.fencing = true;
    try {
      // a look that comes after the process was held up runs before the answers that came in
      // meanwhile are read (timers before I/O): let them land first (a renewal's acknowledgement,
      // the heartbeat service's answer), then decide on what they say
      await new Promise((r) => setImmediate(r));
      const staleNow = this.lease.sinceLastAckedRenewalSentMs();
      const seen = this.confirmations();
      const must = mustFence({
        armed: this.lease.armed,
        sinceLastAckedRenewalSentMs: staleNow,
        confirmedSentMsAgo: seen ? seen.peers.map((p) => (p.confirmedSentMsAgo === null ? null : p.confirmedSentMsAgo + seen.answerMs)) : [],
        heartbeatTimeoutMs: seen?.heartbeatTimeoutMs ?? null,
      });
      if (!must) {
        const peer = seen && staleNow >= T.fenceAfterMs ? confirmingPeer(seen.peers, seen.answerMs, seen.heartbeatTimeoutMs) : null;
        if (!peer) return 'kept-by-renewal';
        if (this.keptBy !== peer)
          this.logger.warn(`the witness has not acknowledged a renewal for ${Math.round(staleNow)} ms, but ${peer} confirms hearing this node: keeping its pools (${peer} cannot take them over)`);
        this.keptBy = peer;
        return 'kept-by-peer';
      }
      await this.fence(Math.round(staleNow));
      return 'fenced';
    } finally {
      this.fencing = false;
    }
  }

  /** Ask this node's heartbeat service what the peers confirm, unless an ask is out already. */
  private askPeers(): void {
    if (this.asking) return;
    this.asking = true;
    const at = now();
    this.heartbeat
      .view(this.ctx.config.nodeId, T.renewTimeoutMs)
      .then((v) => {
        if (!this.asked || this.asked.at < at)
          this.asked = { at, view: { heartbeatTimeoutMs: v.timings.timeoutMs, peers: v.peers.map((p) => ({ peer: p.peer, confirmedSentMsAgo: p.confirmedSentMsAgo })) } };
      })
      .catch(() => undefined)
      .finally(() => (this.asking = false));
  }

  /** The newest answer, aged by the time since it was asked for; null when none came. */
  private confirmations(): PeerConfirmations | null {
    return this.asked ? { ...this.asked.view, answerMs: now() - this.asked.at } : null;
  }

  /** Stop every managed pool here: IPs and shares down at once, then a bounded forced export, then harder. */
  private async fence(staleForMs: number): Promise<void> {
    const started = now();
    const pools = this.held.entries();
    this.logger.error(`lost the ownership lease (${staleForMs} ms without the witness, no peer confirms this node): fencing ${pools.map(([p]) => p).join(', ')}`);
    // clients lose both at once; the budget (FAILOVER_TIMINGS) has room for one bound, not two in a row
    const bound = T.accessDownBoundMs;
    await Promise.all([
      ...pools.flatMap(([, h]) =>
        h.vips.map((v) =>
          withTimeout(this.net.remove({ interface: v.interface, address: v.address, prefix: v.prefix }), bound, `ip del did not finish within ${bound} ms`).catch((err) =>
            this.logger.error(`fence: ${v.address} down failed: ${(err as Error).message}`),
          ),
        ),
      ),
      ...pools.map(([p]) =>
        withTimeout(this.shares.stopPool(p), bound, `the share services did not stop within ${bound} ms`).catch((err) => this.logger.error(`fence: shares of ${p}: ${(err as Error).message}`)),
      ),
    ]);
    type Released = 'exported' | 'hard-fence' | 'failed';
    const results = await Promise.all(
      pools.map(async ([pool, h]) => {
        try {
          await this.zfs.fenceExport(pool, T.exportBoundMs);
          return { pool, epoch: h.epoch, released: 'exported' as Released, error: null as string | null };
        } catch (err) {
          return { pool, epoch: h.epoch, released: 'failed' as Released, error: (err as Error).message };
        }
      }),
    );
    if (results.some((r) => r.released === 'failed')) {
      const gone = await this.hard.fence('a pool could not be released in time');
      for (const r of results) if (r.released === 'failed' && gone) r.released = 'hard-fence';
    }
    for (const r of results) {
      this.held.fenced(r.pool, started);
      Metrics.fences().inc({ released: r.released });
      this.logger.error(`fenced ${r.pool}: ${r.released}${r.error ? ` (${r.error})` : ''}`);
      // told once the cluster can hear it again (the ordered publisher retries for about a minute)
      this.events.publish(Events.poolFenced, r.pool, { node: this.ctx.config.nodeId, epoch: r.epoch, released: r.released, error: r.error });
    }
  }
}
