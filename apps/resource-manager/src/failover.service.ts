import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { KV, Subscription } from 'nats';
import {
  ErrorCode,
  Events,
  FAILOVER_TIMINGS,
  OWNERSHIP_BUCKET,
  TandemError,
  POOLS_BUCKET,
  healthSubject,
  ownershipKey,
  eventWildcard,
  type ClusterRecord,
  type HaPool,
} from '@tandem/contracts';
import { LostPoolTracker, bringDownSteps, bringUpSteps, inactive, releaseSteps, mayTakeOver, planFailover, serving, type FailoverDecision, type Liveness, type NodeView } from '@tandem/domain';
import { env, readEnv } from '@tandem/config';
import { OrderedEvents, bindKv, followKv } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { currentTraceId, inSpan, tracer } from '@tandem/telemetry';
import { ActivityService } from './activity.service';
import { ClusterStore } from './cluster.store';
import { PoolActions } from './pool-actions.service';
import { PoolStore } from './pool.store';

interface PeerView {
  peer: string;
  state: Liveness;
  stateForMs: number;
  channels: { udp: number | null; nats: number | null };
}

/** What a node's heartbeat service reports of its own health (the part failover decides on). */
interface LocalHealth {
  clientLink: 'up' | 'down' | 'unknown';
  pools: Array<{ name: string; health: string }> | null;
}

/** What this node saw of a peer's ownership lease: the revision, and since when (our clock) it has not changed. */
interface LeaseObservation {
  revision: number;
  since: number;
}

const now = () => performance.now();
const NO_WITNESS = 'the witness does not answer this node (or the cluster has none): nobody can tell whether the lost node fenced itself, so nothing moves automatically';
/** Pool health that means the pool cannot serve there (DEGRADED still serves). */
const faulted = (pools: Array<{ name: string; health: string }> | null): string[] => (pools ?? []).filter((p) => ['FAULTED', 'UNAVAIL', 'SUSPENDED', 'REMOVED'].includes(p.health)).map((p) => p.name);

/**
 * Automatic failover. Runs on every node's resource-manager, not only the active one: the
 * node that would receive a pool (the planner's target, by this node's own view) takes it over
 * itself, so a failover never waits for the resource-manager lease of a dead node to lapse. The
 * pool record's compare-and-set makes sure only one node acts.
 *
 * A pool leaves a node that is down only when both hold: nothing heard from it on any heartbeat
 * channel for the heartbeat timeout + `downForMs`, and its ownership lease on the witness seen
 * unchanged for `takeoverAfterMs` (longer than the owner needs to fence itself). A node that is
 * alive but whose client link is down, or whose pool is faulted, hands the pool over in order
 * (released there first; never imported here while it could still be imported there).
 */
@Injectable()
export class FailoverService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('failover');
  private timer?: NodeJS.Timeout;
  private busy = false;
  private cluster: { record: ClusterRecord; at: number } | null = null;
  private ownership: KV | null = null;
  private readonly leases = new Map<string, LeaseObservation>();
  private readonly givingUp = new Map<string, number>();
  /** Each node's local health, and when it last arrived (this node's monotonic clock). */
  private readonly health = new Map<string, { local: LocalHealth; at: number }>();
  /** A pool recorded as serving on a node that has not imported it, for this long, is lost there. */
  private readonly lost = new LostPoolTracker(6_000);
  private sub?: Subscription;
  private stopped = false;
  /** Why automatic failover is declined right now (null: it is not). */
  declined: string | null = null;
  alarms: string[] = [];
  witnessReachable: boolean | null = null;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly clusterStore: ClusterStore,
    private readonly pools: PoolStore,
    private readonly actions: PoolActions,
    private readonly activity: ActivityService,
    private readonly events: OrderedEvents,
  ) {}

  onModuleInit(): void {
    // the nodes' local health (client link, pool health) as their heartbeat services publish it
    this.sub = this.ctx.nc.subscribe(eventWildcard(Events.nodeHealthChanged.entity, Events.nodeHealthChanged.verb), {
      callback: (err, msg) => {
        if (err) return;
        try {
          const env = JSON.parse(new TextDecoder().decode(msg.data)) as { entity?: { id: string }; data?: LocalHealth };
          const node = env.entity?.id;
          if (node && env.data) this.noteHealth(node, env.data);
        } catch {
          /* not ours */
        }
      },
    });
    this.timer = setInterval(() => void this.tick(), 250);
    void this.watchPools();
  }

  /** Every HA pool record, followed by one long-lived watch (no consumer is created on the failover path). */
  private readonly records = new Map<string, HaPool>();
  private async watchPools(): Promise<void> {
    await followKv(
      this.ctx.nc,
      POOLS_BUCKET.bucket,
      'pool.*',
      (key, value) => {
        const name = key.slice('pool.'.length);
        if (value) this.records.set(name, JSON.parse(value) as HaPool);
        else this.records.delete(name);
      },
      { stopped: () => this.stopped, reopenEveryMs: 30_000, onError: (err) => this.logger.debug(`pool records watch: ${err.message}; again in 1 s`) },
    );
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.sub?.unsubscribe();
  }

  private noteHealth(node: string, h: LocalHealth): void {
    this.health.set(node, { local: h, at: now() });
  }

  private refreshing = false;
  /** The cluster record, re-read in the background every 2 s: a read stalled by a stream election never holds up a decision. */
  private async clusterRecord(): Promise<ClusterRecord | null> {
    const stale = !this.cluster || now() - this.cluster.at > 2_000;
    if (stale && !this.refreshing) {
      this.refreshing = true;
      const read = this.clusterStore
        .get()
        .then((c) => {
          this.cluster = c ? { record: c.cluster, at: now() } : null;
        })
        .catch(() => undefined)
        .finally(() => (this.refreshing = false));
      if (!this.cluster) await read;
    }
    return this.cluster?.record ?? null;
  }

  /** A node's heartbeat view (its peers and its own local health), asked of its heartbeat service. */
  private async heartbeatView(node: string): Promise<{ timeoutMs: number; peers: PeerView[]; local: LocalHealth | null } | null> {
    try {
      const msg = await this.ctx.nc.request(healthSubject(node, 'heartbeat'), new Uint8Array(0), { timeout: 500 });
      const v = JSON.parse(new TextDecoder().decode(msg.data)) as { timings: { timeoutMs: number }; peers: PeerView[]; local: LocalHealth | null };
      return { timeoutMs: v.timings.timeoutMs, peers: v.peers, local: v.local ?? null };
    } catch {
      return null;
    }
  }

  private lastHealthSync = 0;
  /**
   * The health events are the fast path; a missed one (published while a connection was
   * re-established) must not leave a node marked with a client link down for ever, so every
   * peer's local health is also asked of it directly every 2 s, in the background.
   */
  private syncPeerHealth(peers: string[]): void {
    if (now() - this.lastHealthSync < 2_000) return;
    this.lastHealthSync = now();
    for (const p of peers)
      void this.heartbeatView(p).then((v) => {
        if (v?.local) this.noteHealth(p, v.local);
      });
  }

  /** Read a peer's lease on the witness; track how long it has stayed unchanged. False: the witness did not answer. */
  private async observeLease(peer: string): Promise<boolean> {
    try {
      this.ownership ??= await bindKv(this.ctx.nc, OWNERSHIP_BUCKET.bucket, 500);
      const e = await this.ownership.get(ownershipKey(peer));
      const revision = e?.revision ?? 0;
      const seen = this.leases.get(peer);
      if (!seen || seen.revision !== revision) this.leases.set(peer, { revision, since: now() });
      return true;
    } catch {
      // keep what was seen: a later read of the same revision proves no renewal happened meanwhile
      this.ownership = null;
      return false;
    }
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      await this.check();
    } catch (err) {
      this.logger.warn(`failover check: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private async check(): Promise<void> {
    const me = this.ctx.config.nodeId;
    const c = await this.clusterRecord();
    const self = c?.nodes.find((n) => n.id === me);
    if (!c || !self || self.adminState !== 'online') {
      this.leases.clear();
      return;
    }
    const hb = await this.heartbeatView(me);
    if (!hb) return; // without our own view of the peers we decide nothing
    if (hb.local) this.noteHealth(me, hb.local);
    this.syncPeerHealth(c.nodes.filter((m) => m.id !== me && hb.peers.find((p) => p.peer === m.id)?.state !== 'down').map((m) => m.id));
    const byId = new Map(hb.peers.map((p) => [p.peer, p]));
    // observe every peer's lease all the time (a small read on the witness): when a peer goes
    // silent, how long its lease has stood still is already known
    const peers = c.nodes.filter((m) => m.id !== me);
    const answered = await Promise.all(peers.map((m) => this.observeLease(m.id)));
    const witness = peers.length === 0 ? await this.observeLease(me) : answered.every(Boolean);
    this.witnessReachable = witness;
    // pools recorded as serving on a node that says it has not imported them
    const reports = new Map(
      c.nodes.map((m) => {
        const r = this.health.get(m.id);
        return [m.id, { pools: r?.local.pools?.map((p) => p.name) ?? null, at: r?.at ?? -Infinity }];
      }),
    );
    const lost = this.lost.update(now(), [...this.records.values()], reports);
    const localTrouble = lost.size > 0 || [...this.health].some(([n, { local: h }]) => c.nodes.some((m) => m.id === n) && (h.clientLink === 'down' || faulted(h.pools).length > 0));
    if (!localTrouble && hb.peers.every((p) => p.state === 'up')) {
      this.setDeclined(null, []);
      return;
    }

    const t = now();
    const silence = (v: PeerView) => Math.min(v.channels.udp ?? Infinity, v.channels.nats ?? Infinity);
    const nodes: NodeView[] = c.nodes.map((m) => {
      const h = this.health.get(m.id)?.local;
      const base = { id: m.id, online: m.adminState === 'online', clientLinkUp: h ? (h.clientLink === 'unknown' ? null : h.clientLink === 'up') : null, faultedPools: faulted(h?.pools ?? null), lostPools: lost.get(m.id) ?? [] };
      if (m.id === me) return { ...base, liveness: 'up' as Liveness };
      const v = byId.get(m.id);
      if (!v) return { ...base, liveness: 'unknown' as Liveness };
      if (v.state !== 'down') return { ...base, liveness: v.state };
      // down, and long enough for the owner to have fenced itself?
      const lease = this.leases.get(m.id);
      const gone = mayTakeOver({ silentMs: silence(v), heartbeatTimeoutMs: hb.timeoutMs, leaseStillForMs: lease ? t - lease.since : null });
      return { ...base, liveness: (gone ? 'down' : 'suspect') as Liveness };
    });
    const waiting = c.nodes.filter((m) => byId.get(m.id)?.state === 'down' && nodes.find((n) => n.id === m.id)?.liveness !== 'down');
    if (!localTrouble && !nodes.some((n) => n.liveness === 'down')) {
      // nothing to move (yet): a lost node is still within its fence time, or only suspect
      const alarms = nodes.filter((n) => n.online && n.liveness === 'suspect' && !waiting.some((w) => w.id === n.id)).map((n) => `node ${n.id} is suspect: some heartbeat channel is silent, nothing moves`);
      this.setDeclined(!witness && waiting.length > 0 ? NO_WITNESS : null, alarms, []);
      return;
    }

    // the pools in trouble, read fresh (the watch may lag behind a stream leader change)
    const troubled = new Set(nodes.filter((n) => n.liveness === 'down' || n.clientLinkUp === false || n.faultedPools.length > 0 || (n.lostPools ?? []).length > 0).map((n) => n.id));
    await Promise.all(
      [...this.records.values()]
        .filter((p) => p.node && troubled.has(p.node))
        .map(async (p) => {
          const fresh = await Promise.race([this.pools.get(p.name), new Promise<null>((r) => setTimeout(() => r(null), 1_000).unref())]).catch(() => null);
          if (fresh) this.records.set(p.name, fresh.pool);
        }),
    );
    const all = [...this.records.values()];
    const wallNow = Date.now();
    const plan = planFailover({
      now: wallNow,
      maintenance: c.maintenance,
      quorum: witness,
      nodes,
      pools: all,
      failedOn: Object.fromEntries(all.map((p) => [p.name, p.failedOn ?? []])),
      lastAutoMove: Object.fromEntries(all.filter((p) => p.lastFailoverAt).map((p) => [p.name, Date.parse(p.lastFailoverAt!)])),
      holdDownMs: this.holdDownMs,
    });
    const declined = !witness && plan.declined !== null ? NO_WITNESS : plan.declined;
    const affected = all.filter((p) => p.state === 'serving' && p.node && waiting.some((w) => w.id === p.node)).map((p) => p.name);
    const held = plan.decisions
      .filter((d) => d.action === 'hold' || (d.action === 'inactive' && d.reason !== 'node-down'))
      .map((d) => `pool ${d.pool} stays on ${d.from} (${d.reason}): ${'why' in d ? d.why : ''}`);
    this.setDeclined(declined, [...plan.alarms, ...held], affected.length ? affected : plan.decisions.map((d) => d.pool));

    const upNodes = nodes.filter((n) => n.online && n.liveness === 'up').map((n) => n.id).sort();
    const giving = new Set<string>();
    for (const d of plan.decisions) {
      if (d.action === 'failover' && d.to === me) await this.takeOver(d, byId.get(d.from), hb.timeoutMs);
      else if (d.action === 'inactive' && d.reason === 'node-down') {
        // a lost node's pool with nowhere to go: inactive, once the view has held for 2 s
        giving.add(d.pool);
        const since = this.givingUp.get(d.pool) ?? now();
        this.givingUp.set(d.pool, since);
        if (upNodes[0] === me && now() - since >= 2_000) await this.giveUp(d, nodes);
      }
    }
    for (const p of this.givingUp.keys()) if (!giving.has(p)) this.givingUp.delete(p);
  }

  /** No ping-pong: a pool moved automatically stays put this long (a lost node still loses it). */
  private readonly holdDownMs = readEnv({ TANDEM_FAILOVER_HOLD_DOWN_MS: env.millis(120_000) }).TANDEM_FAILOVER_HOLD_DOWN_MS;

  private setDeclined(reason: string | null, alarms: string[], pools: string[] = []): void {
    this.alarms = alarms;
    if (reason === this.declined) return;
    this.declined = reason;
    if (!reason) return;
    this.logger.warn(`automatic failover declined: ${reason}`);
    this.events.publish(Events.failoverDeclined, this.ctx.config.clusterId, { observer: this.ctx.config.nodeId, pools, reason });
  }

  private async giveUp(d: Extract<FailoverDecision, { action: 'inactive' }>, nodes: NodeView[]): Promise<void> {
    const rec = await this.pools.get(d.pool);
    if (!rec || rec.pool.state !== 'serving' || rec.pool.node !== d.from) return;
    // only if the fresh record still leaves no node to run it
    const failed = new Set([...(rec.pool.failedOn ?? []), d.from]);
    if (nodes.some((n) => n.online && n.liveness === 'up' && n.clientLinkUp !== false && !failed.has(n.id))) return;
    const why = `failed on ${d.from} (${d.reason}): ${d.why}`;
    await this.pools.put({ ...inactive(rec.pool, why, new Date()), failedOn: [...new Set([...(rec.pool.failedOn ?? []), d.from])] }, rec.revision);
    void this.activity.record('cluster', 'pool.failover', d.pool, 'failed', why);
    this.events.publish(Events.poolFailoverFailed, d.pool, { from: d.from, reason: why });
  }

  /** The owner could not release the pool: it stays there (serving again if it can), never imported twice. */
  private async restore(pool: HaPool, rev: number, node: string, why: string): Promise<void> {
    this.logger.error(`pool ${pool.name}: automatic move away from ${node} stopped: ${why}`);
    try {
      await this.actions.run(pool, bringUpSteps(pool, node, pool.epoch), null);
      const mountpoint = await this.actions.mountpoint(pool.name, node);
      await this.pools.put({ ...serving({ ...pool, mountpoint }, node, pool.epoch, mountpoint, new Date()), reason: why }, rev);
    } catch (err) {
      await this.pools.put(inactive(pool, `${why}; serving it on ${node} again failed too: ${(err as Error).message}`, new Date()), rev).catch(() => undefined);
    }
    void this.activity.record('cluster', 'pool.failover', pool.name, 'failed', why);
  }

  /**
   * The owner is alive: it lets go of the pool first, in the fence order (IPs down, shares
   * down, a forced export; the node fences itself harder when the export does not finish in
   * time: a pool whose disks stopped answering never exports). Nothing is imported here unless
   * this succeeded. False: the pool stays where it is (serving again, or inactive with why).
   */
  private async release(moving: HaPool, rev: number, d: Extract<FailoverDecision, { action: 'failover' }>): Promise<boolean> {
    // a pool whose disks fail there (or that is not even imported there): the export either
    // never finishes or has nothing to do
    const faultedPool = d.reason === 'pool-faulted' || d.reason === 'pool-lost';
    const steps = releaseSteps(moving, d.from, faultedPool ? FAILOVER_TIMINGS.faultedReleaseBoundMs : FAILOVER_TIMINGS.releaseBoundMs);
    try {
      await this.actions.run(moving, steps.filter((x) => x.kind === 'ip.remove'), null);
      // a share that will not stop (its files hang on dead disks) does not hold the release up:
      // its IPs are gone, and the export or the harder fence ends it
      for (const f of await this.actions.runAll(moving, steps.filter((x) => x.kind === 'share.stop'))) this.logger.warn(`pool ${moving.name}: ${f}; going on with the export`);
      await this.actions.run(moving, steps.filter((x) => x.kind === 'pool.export'), null);
      return true;
    } catch (err) {
      const why = `releasing it on ${d.from} failed: ${(err as Error).message}`;
      const code = (err as TandemError).code;
      if (!faultedPool) await this.restore(moving, rev, d.from, why);
      else if (code === ErrorCode.Timeout || code === ErrorCode.UnknownNode) {
        // the owner stopped answering (rebooting as its harder fence?): the record stays as it
        // was; once that node is down and its lease stands still, it is taken over like any lost node
        this.logger.error(`pool ${moving.name}: ${why}; it stays recorded on ${d.from} until that node answers or is seen down`);
        await this.pools.put({ ...moving, state: 'serving', operation: null, reason: why, updatedAt: new Date().toISOString() }, rev).catch(() => undefined);
        void this.activity.record('cluster', 'pool.failover', moving.name, 'failed', why);
      } else {
        const msg = `${why}. ${d.reason === 'pool-lost' ? 'It is not imported there' : 'Its disks do not answer there'} and it could not be released: power ${d.from} off, then \`tandem pool reattach ${moving.name} --node <a healthy node>\``;
        this.logger.error(`pool ${moving.name}: ${msg}`);
        await this.pools.put({ ...inactive(moving, msg, new Date()), failedOn: [...new Set([...(moving.failedOn ?? []), d.from])] }, rev).catch(() => undefined);
        void this.activity.record('cluster', 'pool.failover', moving.name, 'failed', msg);
        this.events.publish(Events.poolFailoverFailed, moving.name, { from: d.from, reason: msg });
      }
      return false;
    }
  }

  /** Take `d.pool` over on this node: one trace, with the phases as child spans. */
  private async takeOver(d: Extract<FailoverDecision, { action: 'failover' }>, ownerView: PeerView | undefined, timeoutMs: number): Promise<void> {
    const rec = await this.pools.get(d.pool);
    if (!rec || rec.pool.state !== 'serving' || rec.pool.node !== d.from) return;
    const t = now();
    const wall = Date.now();
    // the fault began when the owner was last heard (node down), or about now (a reported local fault)
    const silenceMs = d.reason === 'node-down' && ownerView ? Math.min(ownerView.channels.udp ?? Infinity, ownerView.channels.nats ?? Infinity) : 0;
    const detectionMs = d.reason === 'node-down' ? Math.min(silenceMs, timeoutMs) : 0;
    const fenceWaitMs = d.reason === 'node-down' ? Math.max(0, silenceMs - timeoutMs) : 0;
    await inSpan('pool failover', { 'tandem.pool': d.pool, 'tandem.from': d.from, 'tandem.to': d.to, 'tandem.reason': d.reason }, async (root) => {
      const traceId = currentTraceId();
      if (d.reason === 'node-down') {
        tracer().startSpan('detection', { startTime: wall - silenceMs, attributes: { 'tandem.pool': d.pool, 'tandem.node': d.from, 'tandem.timeout_ms': timeoutMs } }).end(wall - silenceMs + detectionMs);
        tracer().startSpan('fence wait', { startTime: wall - fenceWaitMs, attributes: { 'tandem.pool': d.pool, 'tandem.node': d.from } }).end(wall);
      }
      const epoch = rec.pool.epoch + 1;
      const moving: HaPool = { ...rec.pool, state: 'in-transition', operation: `failover from ${d.from} to ${d.to} (${d.reason})`, updatedAt: new Date().toISOString() };
      let rev: number;
      try {
        rev = await this.pools.put(moving, rec.revision);
      } catch (err) {
        this.logger.log(`pool ${d.pool}: another node acted first (${(err as Error).message})`);
        return;
      }
      this.logger.warn(`failover: pool ${d.pool} from ${d.from} (${d.reason}) to ${d.to}, epoch ${epoch}`);
      void this.activity.record('cluster', 'pool.failover', d.pool, 'started');
      const phase = { releaseMs: 0, importMs: 0, ipsMs: 0, sharesMs: 0 };
      try {
        const releasing = now();
        if (d.reason !== 'node-down' && !(await this.release(moving, rev, d))) return;
        phase.releaseMs = now() - releasing;
        const steps = bringUpSteps(moving, d.to, epoch, true);
        let s = now();
        // refused without doing anything (this node's lease is not fresh this instant, its
        // host-executor is restarting): ask again for a few seconds before giving the pool up
        for (let attempt = 1; ; attempt++) {
          try {
            await this.actions.run(moving, steps.filter((x) => x.kind === 'pool.import'), null);
            break;
          } catch (err) {
            if ((err as TandemError).code !== ErrorCode.Unavailable || attempt >= 8) throw err;
            this.logger.warn(`pool ${d.pool}: import on ${d.to} refused (${(err as Error).message}); again in 500 ms`);
            await new Promise((r) => setTimeout(r, 500));
          }
        }
        phase.importMs = now() - s;
        s = now();
        await this.actions.run(moving, steps.filter((x) => x.kind === 'ip.add'), null);
        phase.ipsMs = now() - s;
        s = now();
        const mountpoint = await this.actions.mountpoint(d.pool, d.to);
        await this.actions.run({ ...moving, mountpoint }, steps.filter((x) => x.kind === 'share.start'), mountpoint);
        phase.sharesMs = now() - s;
        const done: HaPool = { ...serving({ ...moving, mountpoint }, d.to, epoch, mountpoint, new Date()), failedOn: [...new Set([...(rec.pool.failedOn ?? []), d.from])], lastFailoverAt: new Date().toISOString() };
        await this.pools.put(done, rev);
        const totalMs = Math.round(silenceMs + (now() - t));
        const timings = { detectionMs: Math.round(detectionMs), fenceWaitMs: Math.round(fenceWaitMs), releaseMs: Math.round(phase.releaseMs), importMs: Math.round(phase.importMs), ipsMs: Math.round(phase.ipsMs), sharesMs: Math.round(phase.sharesMs), totalMs };
        root.setAttributes({ 'tandem.epoch': epoch, 'tandem.total_ms': totalMs });
        this.logger.warn(`failover: pool ${d.pool} serving on ${d.to} (epoch ${epoch}), ${totalMs} ms after the fault (detection ${timings.detectionMs}, fence wait ${timings.fenceWaitMs}, release ${timings.releaseMs}, import ${timings.importMs}, IPs ${timings.ipsMs}, shares ${timings.sharesMs})`);
        void this.activity.record('cluster', 'pool.failover', d.pool, 'succeeded');
        this.events.publish(Events.poolFailedOver, d.pool, { from: d.from, to: d.to, reason: d.reason, epoch, timings, traceId });
      } catch (err) {
        const failures = await this.actions.runAll(moving, bringDownSteps(moving, d.to, true));
        const why = `failover from ${d.from} to ${d.to} failed: ${(err as Error).message}${failures.length ? `; releasing it on ${d.to} failed too: ${failures.join('; ')}` : ''}`;
        this.logger.error(why);
        const fresh = await this.pools.get(d.pool);
        await this.pools
          .put({ ...inactive(moving, why, new Date()), epoch, failedOn: [...new Set([...(rec.pool.failedOn ?? []), d.from, d.to])] }, fresh?.revision ?? rev)
          .catch((e) => this.logger.error(`pool ${d.pool}: recording the failed failover: ${(e as Error).message}`));
        void this.activity.record('cluster', 'pool.failover', d.pool, 'failed', why);
        this.events.publish(Events.poolFailoverFailed, d.pool, { from: d.from, reason: why });
      }
    });
  }
}
