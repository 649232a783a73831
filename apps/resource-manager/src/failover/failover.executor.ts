import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, Events, FAILOVER_TIMINGS, TandemError, syncLockedMessage, type HaPool, type ReplicationState, type SyncLock } from '@tandem/contracts';
import { bringDownSteps, bringUpSteps, hasHealthyTarget, inactive, isServiceStart, isServiceStop, releaseSteps, serving, type FailoverRound, type GiveUp, type Takeover } from '@tandem/domain';
import { OrderedEvents, type KvRecordStore } from '@tandem/messaging';
import { REPLICATION_STORE } from '../replication/replication.store';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { Metrics, currentTraceId, inSpan, observeFailoverTimings, tracer } from '@tandem/telemetry';
import { runTreeTasks, sleep } from '@tandem/util';
import { ActivityService } from '../activity.service';
import { PoolActions } from '../pool-actions.service';
import { PoolHooks, type HookCall } from '../pool-hooks.service';
import { PoolStore } from '../pool.store';
import pLimit from 'p-limit';
import { POOL_PARALLELISM, TAKEOVER_PARALLELISM } from '../operation-locks';

const now = () => performance.now();
const union = (...lists: Array<readonly string[] | undefined>) => [...new Set(lists.flatMap((l) => l ?? []))];

/**
 * Carries out what the failover decision said, and records it: every takeover is one trace
 * (`pool failover`, with detection, fence wait and each step as child spans), an activity entry
 * and an event. Each action starts with a compare-and-set on the pool record, so when two nodes
 * decide the same thing only one acts; a pool is never imported here while it could still be
 * imported where it was.
 */
@Injectable()
export class FailoverExecutor {
  private readonly logger = new Logger('failover');
  /** The takeovers' IPs and shares, POOL_PARALLELISM pools at a time (their imports are not held back by it). */
  private readonly bringUps = pLimit(POOL_PARALLELISM);

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: Pick<ServiceContext, 'config'>,
    @Inject(PoolStore) private readonly pools: Pick<PoolStore, 'get' | 'put'>,
    @Inject(PoolActions) private readonly actions: Pick<PoolActions, 'run' | 'runAll' | 'mountpoint' | 'devicesOf'>,
    @Inject(ActivityService) private readonly activity: Pick<ActivityService, 'record'>,
    @Inject(OrderedEvents) private readonly events: Pick<OrderedEvents, 'publish'>,
    @Inject(REPLICATION_STORE) private readonly replication: Pick<KvRecordStore<ReplicationState>, 'get'>,
    @Inject(PoolHooks) private readonly hooks: Pick<PoolHooks, 'preStart' | 'background'>,
  ) {}

  /**
   * Everything the round says this node does, side by side: a node that dies with 20 pools must
   * not leave the last one waiting for the 19 before it. TAKEOVER_PARALLELISM takeovers at a time
   * (so their imports go together on the host-executor), their IPs and shares POOL_PARALLELISM
   * at a time. Each pool's takeover is its own (its record's compare-and-set, its own lock on the
   * host-executor).
   */
  async carryOut(round: FailoverRound): Promise<void> {
    const planned = now();
    const results = await Promise.all([
      // a takeover that waited for a slot counts that wait in its fence wait and total (the owner stayed silent meanwhile)
      runTreeTasks(
        round.takeovers,
        () => null,
        TAKEOVER_PARALLELISM,
        (t) => this.takeOver(t.decision, t.ownerSilentMs + (now() - planned), t.heartbeatTimeoutMs),
      ),
      runTreeTasks(
        round.giveUps,
        () => null,
        POOL_PARALLELISM,
        (g) => this.giveUp(g.decision, g.nodes),
      ),
    ]);
    for (const r of results.flat()) if (!r.ok) this.logger.error(`failover: ${(r.error as Error).message}`);
  }

  /** A lost node's pool with nowhere to go: inactive with the reason — if the fresh record still leaves no node to run it. */
  async giveUp(d: GiveUp, nodes: FailoverRound['giveUps'][number]['nodes']): Promise<void> {
    const rec = await this.pools.get(d.pool);
    if (!rec || rec.pool.state !== 'serving' || rec.pool.node !== d.from) return;
    if (hasHealthyTarget(nodes, union(rec.pool.failedOn, [d.from]))) return;
    // a node whose pre-start hooks refused it said why (passOn)
    const why = `failed on ${d.from} (${d.reason}): ${d.why}${rec.pool.reason ? `; ${rec.pool.reason}` : ''}`;
    await this.pools.put({ ...inactive(rec.pool, why, new Date()), failedOn: union(rec.pool.failedOn, [d.from]) }, rec.revision);
    void this.activity.record('cluster', 'pool.failover', d.pool, 'failed', why);
    Metrics.failovers().inc({ reason: d.reason, result: 'no-target' });
    this.events.publish(Events.poolFailoverFailed, d.pool, { from: d.from, reason: why });
  }

  /** Take `d.pool` over on this node: one trace, with the phases as child spans. */
  async takeOver(d: Takeover, ownerSilentMs: number, heartbeatTimeoutMs: number): Promise<void> {
    const rec = await this.pools.get(d.pool);
    if (!rec || rec.pool.state !== 'serving' || rec.pool.node !== d.from) return;
    const t = now();
    const wall = Date.now();
    // the fault began when the owner was last heard (node down), or about now (a reported local fault)
    const silenceMs = d.reason === 'node-down' ? ownerSilentMs : 0;
    const detectionMs = d.reason === 'node-down' ? Math.min(silenceMs, heartbeatTimeoutMs) : 0;
    const fenceWaitMs = d.reason === 'node-down' ? Math.max(0, silenceMs - heartbeatTimeoutMs) : 0;
    await inSpan('pool failover', { 'tandem.pool': d.pool, 'tandem.from': d.from, 'tandem.to': d.to, 'tandem.reason': d.reason }, async (root) => {
      const traceId = currentTraceId();
      if (d.reason === 'node-down') {
        tracer()
          .startSpan('detection', { startTime: wall - silenceMs, attributes: { 'tandem.pool': d.pool, 'tandem.node': d.from, 'tandem.timeout_ms': heartbeatTimeoutMs } })
          .end(wall - silenceMs + detectionMs);
        tracer()
          .startSpan('fence wait', { startTime: wall - fenceWaitMs, attributes: { 'tandem.pool': d.pool, 'tandem.node': d.from } })
          .end(wall);
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
        // the node it left runs its post-stop hooks once the pool is gone from it; nothing waits for them (a lost node runs none)
        if (d.reason !== 'node-down') this.hooks.background('post-stop', { pool: d.pool, node: d.from, epoch: rec.pool.epoch, reason: 'failover', peer: d.to, actor: 'cluster' });
        // this node's pre-start hooks may refuse the pool: it is not imported here, and the next
        // round of the decision looks for another node (it never picks a node the pool failed on)
        const hook: HookCall = { pool: d.pool, node: d.to, epoch, reason: 'failover', peer: d.from, actor: 'cluster' };
        const refusal = await this.hooks.preStart(hook).then(
          () => null,
          (err: Error) => err.message,
        );
        if (refusal !== null) return await this.passOn(rec.pool, rev, d, refusal);
        const steps = bringUpSteps(moving, d.to, epoch, true);
        let s = now();
        await this.importHere(moving, steps);
        phase.importMs = now() - s;
        const mountpoint = await this.bringUps(async () => {
          s = now();
          await this.actions.run(
            moving,
            steps.filter((x) => x.kind === 'ip.add'),
            null,
          );
          phase.ipsMs = now() - s;
          s = now();
          const mp = await this.actions.mountpoint(d.pool, d.to);
          await this.actions.run({ ...moving, mountpoint: mp }, steps.filter(isServiceStart), mp);
          phase.sharesMs = now() - s;
          return mp;
        });
        // a replicated pool now serves the copy it last received: sync stays locked until an operator resumes it
        const lock = moving.mode === 'replicated' ? await this.syncLock(d) : null;
        const done: HaPool = {
          ...serving({ ...moving, mountpoint }, d.to, epoch, mountpoint, new Date()),
          ...this.actions.devicesOf(moving, d.to),
          failedOn: union(rec.pool.failedOn, [d.from]),
          lastFailoverAt: new Date().toISOString(),
          ...(lock ? { syncLock: lock } : {}),
        };
        await this.pools.put(done, rev);
        if (lock) this.announceLock(d.pool, lock);
        const totalMs = Math.round(silenceMs + (now() - t));
        const timings = {
          detectionMs: Math.round(detectionMs),
          fenceWaitMs: Math.round(fenceWaitMs),
          releaseMs: Math.round(phase.releaseMs),
          importMs: Math.round(phase.importMs),
          ipsMs: Math.round(phase.ipsMs),
          sharesMs: Math.round(phase.sharesMs),
          totalMs,
        };
        root.setAttributes({ 'tandem.epoch': epoch, 'tandem.total_ms': totalMs });
        this.logger.warn(
          `failover: pool ${d.pool} serving on ${d.to} (epoch ${epoch}), ${totalMs} ms after the fault (detection ${timings.detectionMs}, fence wait ${timings.fenceWaitMs}, release ${timings.releaseMs}, import ${timings.importMs}, IPs ${timings.ipsMs}, shares ${timings.sharesMs})`,
        );
        void this.activity.record('cluster', 'pool.failover', d.pool, 'succeeded');
        this.hooks.background('post-start', hook);
        observeFailoverTimings(timings, d.reason);
        this.events.publish(Events.poolFailedOver, d.pool, { from: d.from, to: d.to, reason: d.reason, epoch, timings, traceId });
      } catch (err) {
        const failures = await this.actions.runAll(moving, bringDownSteps({ ...moving, epoch }, d.to, true));
        const why = `failover from ${d.from} to ${d.to} failed: ${(err as Error).message}${failures.length ? `; releasing it on ${d.to} failed too: ${failures.join('; ')}` : ''}`;
        this.logger.error(why);
        const fresh = await this.pools.get(d.pool);
        await this.pools
          .put({ ...inactive(moving, why, new Date()), epoch, failedOn: union(rec.pool.failedOn, [d.from, d.to]) }, fresh?.revision ?? rev)
          .catch((e) => this.logger.error(`pool ${d.pool}: recording the failed failover: ${(e as Error).message}`));
        void this.activity.record('cluster', 'pool.failover', d.pool, 'failed', why);
        Metrics.failovers().inc({ reason: d.reason, result: 'failed' });
        this.events.publish(Events.poolFailoverFailed, d.pool, { from: d.from, reason: why });
      }
    });
  }

  /**
   * This node's pre-start hooks refused the pool: the record is put back as it was before this
   * takeover, with this node among those the pool failed on, so that the next round of the
   * decision sends it to another node — or, with none left, makes it inactive (saying why).
   */
  private async passOn(before: HaPool, rev: number, d: Takeover, refusal: string): Promise<void> {
    this.logger.warn(`failover of ${d.pool}: ${refusal}; another node is looked for`);
    await this.pools
      .put({ ...before, failedOn: union(before.failedOn, [d.to]), reason: refusal, updatedAt: new Date().toISOString() }, rev)
      .catch((e) => this.logger.error(`pool ${d.pool}: recording the refusal: ${(e as Error).message}`));
    void this.activity.record('cluster', 'pool.failover', d.pool, 'failed', refusal);
  }

  /** The lock of a replicated pool taken over automatically: how old the new active's copy is, from the replication record. */
  private async syncLock(d: Takeover): Promise<SyncLock> {
    const replica = (await this.replication.get(d.pool).catch(() => null))?.value.replicas[d.to];
    const common = replica?.newestCommon ?? null;
    return { at: new Date().toISOString(), from: d.from, to: d.to, lastSnapshot: common?.name ?? null, lastSnapshotAt: common?.createdAt ?? null };
  }

  private announceLock(pool: string, lock: SyncLock): void {
    const possiblyMissingS = lock.lastSnapshotAt ? Math.max(0, Math.round((Date.parse(lock.at) - Date.parse(lock.lastSnapshotAt)) / 1000)) : null;
    const message = syncLockedMessage(pool);
    this.logger.warn(`${message} (${lock.to} serves the copy of ${lock.lastSnapshot ?? 'no snapshot'}; up to ${possiblyMissingS ?? '?'} s of writes on ${lock.from} may be missing)`);
    this.events.publish(Events.replicationLocked, pool, { message, from: lock.from, to: lock.to, lastSnapshot: lock.lastSnapshot, possiblyMissingS });
  }

  /**
   * The forced import here. Refused without doing anything (this node's lease is not fresh this
   * instant, its host-executor is restarting): asked again for a few seconds before giving up.
   */
  private async importHere(moving: HaPool, steps: ReturnType<typeof bringUpSteps>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.actions.run(
          moving,
          steps.filter((x) => x.kind === 'pool.import'),
          null,
        );
        return;
      } catch (err) {
        if ((err as TandemError).code !== ErrorCode.Unavailable || attempt >= 8) throw err;
        this.logger.warn(`pool ${moving.name}: import on ${this.ctx.config.nodeId} refused (${(err as Error).message}); again in 500 ms`);
        await sleep(500);
      }
    }
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
  private async release(moving: HaPool, rev: number, d: Takeover): Promise<boolean> {
    // a pool whose disks fail there (or that is not even imported there): the export either
    // never finishes or has nothing to do
    const faultedPool = d.reason === 'pool-faulted' || d.reason === 'pool-lost';
    const steps = releaseSteps(moving, d.from, faultedPool ? FAILOVER_TIMINGS.faultedReleaseBoundMs : FAILOVER_TIMINGS.releaseBoundMs, !faultedPool);
    try {
      await this.actions.run(
        moving,
        steps.filter((x) => x.kind === 'ip.remove'),
        null,
      );
      // a share that will not stop (its files hang on dead disks) does not hold the release up:
      // its IPs are gone, and the export or the harder fence ends it
      for (const f of await this.actions.runAll(moving, steps.filter(isServiceStop))) this.logger.warn(`pool ${moving.name}: ${f}; going on with the export`);
      await this.actions.run(
        moving,
        steps.filter((x) => x.kind === 'pool.export' || x.kind === 'pool.demote'),
        null,
      );
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
        await this.pools.put({ ...inactive(moving, msg, new Date()), failedOn: union(moving.failedOn, [d.from]) }, rev).catch(() => undefined);
        void this.activity.record('cluster', 'pool.failover', moving.name, 'failed', msg);
        this.events.publish(Events.poolFailoverFailed, moving.name, { from: d.from, reason: msg });
      }
      return false;
    }
  }
}
