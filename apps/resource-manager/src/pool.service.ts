import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, Events, TandemError, effectiveSchedule, syncLockedMessage, type FloatingIp, type HaPool, type HookReason, type PoolOpParsed, type PoolOpResults } from '@tandem/contracts';
import {
  assertNotInTransition,
  begin,
  bringDownSteps,
  bringUpSteps,
  hasTarget,
  lunIdentity,
  nextLunNumber,
  poolIqn,
  portalOf,
  isServiceStart,
  checkMove,
  checkReattach,
  checkSharesUnique,
  checkVipsFree,
  checkVipsOffClusterNetworks,
  inactive,
  newPool,
  serving,
  withSchedule,
  withoutSchedule,
} from '@tandem/domain';
import { HostClient, OrderedEvents } from '@tandem/messaging';
import { ReplicationSync, replicationEndpoint } from '@tandem/replication';
import { inSpan } from '@tandem/telemetry';
import { ActivityService } from './activity.service';
import { ChapStore } from './chap.store';
import { PoolActions } from './pool-actions.service';
import { PoolHooks } from './pool-hooks.service';
import { ShareUsersService } from './share-users.service';
import { PoolStore } from './pool.store';
import { ClusterStore } from './cluster.store';

/**
 * Every operator action on HA pools. Runs only on the active resource-manager. Each action is
 * recorded (started, then succeeded or failed) and leaves the pool serving on exactly one node
 * or inactive with the reason.
 */
@Injectable()
export class PoolService {
  private readonly logger = new Logger('pools');
  private readonly sync: ReplicationSync;

  constructor(
    private readonly store: PoolStore,
    private readonly actions: PoolActions,
    private readonly host: HostClient,
    private readonly events: OrderedEvents,
    private readonly activity: ActivityService,
    private readonly cluster: ClusterStore,
    private readonly shareUsers: ShareUsersService,
    private readonly hooks: PoolHooks,
    private readonly chap: ChapStore,
  ) {
    this.sync = new ReplicationSync(host);
  }

  /** The online members of the cluster (a cluster must exist). */
  private nodes(): Promise<string[]> {
    return this.cluster.onlineNodes();
  }

  list(): Promise<HaPool[]> {
    return this.store.list();
  }

  async get(name: string): Promise<HaPool> {
    return (await this.store.require(name)).pool;
  }

  /** Wrap an action: activity entries and one trace. */
  private async recorded<T>(actor: string, action: string, target: string, attrs: Record<string, string>, fn: () => Promise<T>): Promise<T> {
    return inSpan(`pool ${action}`, { 'tandem.pool': target, ...attrs }, () => this.activity.track(actor, action, target, fn));
  }

  private async requireNode(node: string, field: string): Promise<void> {
    const nodes = await this.nodes();
    if (!nodes.includes(node)) throw new TandemError(ErrorCode.UnknownNode, `node ${node} is not an online node of the cluster (online: ${nodes.join(', ') || 'none'})`, field);
  }

  /** Interface present on every node that answers; address not up anywhere. */
  private async checkVipsOnNodes(vips: FloatingIp[]): Promise<void> {
    for (const node of await this.nodes()) {
      let links, addrs;
      try {
        [links, addrs] = await Promise.all([this.host.call(node, 'link.list', {}, 10_000), this.host.call(node, 'ip.list', {}, 10_000)]);
      } catch (err) {
        throw new TandemError(ErrorCode.Unavailable, `cannot check floating IPs on ${node}: ${(err as Error).message}`, 'vips');
      }
      for (const v of vips) {
        if (!links.some((l) => l.name === v.interface))
          throw new TandemError(ErrorCode.InterfaceNotFound, `interface ${v.interface} does not exist on ${node}: a floating IP must be able to live on every node`, 'vips');
        if (addrs.some((a) => a.address === v.address)) throw new TandemError(ErrorCode.AddressInUse, `address ${v.address} is already up on ${node}`, 'vips');
      }
    }
  }

  /** Where the pool is imported now, asked of every node. */
  private async importedOn(pool: string): Promise<string[]> {
    const out: string[] = [];
    await Promise.all(
      (await this.cluster.require()).cluster.nodes.map(async ({ id: n }) => {
        const pools = await this.host.call(n, 'pool.list', {}, 10_000).catch(() => []);
        if (pools.some((p) => p.name === pool)) out.push(n);
      }),
    );
    return out;
  }

  attach(req: PoolOpParsed<'pool.attach'>): Promise<PoolOpResults['pool.attach']> {
    return this.recorded(req.actor, 'pool.attach', req.pool, { 'tandem.node': req.node }, async () => {
      await this.requireNode(req.node, 'node');
      if (await this.store.get(req.pool)) throw new TandemError(ErrorCode.AlreadyExists, `pool ${req.pool} is already under cluster control`, 'pool');
      checkSharesUnique(req.shares);
      for (const [i, share] of req.shares.entries()) await this.shareUsers.requireUsers(share.users, `shares.${i}.users`);
      if (req.shares.length && req.vips.length === 0) throw new TandemError(ErrorCode.InvalidArgument, 'shares need at least one floating IP to serve on', 'shares');
      if (req.luns.length && req.replicated)
        throw new TandemError(ErrorCode.InvalidArgument, 'LUNs are served from shared-storage pools only (a replicated copy trails by a snapshot interval)', 'luns');
      checkVipsFree(req.vips, await this.store.list());
      checkVipsOffClusterNetworks(req.vips, (await this.cluster.require()).cluster);
      await this.checkVipsOnNodes(req.vips);
      if (req.replicated) return this.attachReplicated(req);
      const imported = await this.importedOn(req.pool);
      const elsewhere = imported.filter((n) => n !== req.node);
      if (elsewhere.length) throw new TandemError(ErrorCode.PoolImportedElsewhere, `pool ${req.pool} is imported on ${elsewhere.join(', ')}: attach it there, or export it there first`, 'node');
      if (!imported.includes(req.node)) {
        const importable = await this.host.call(req.node, 'pool.importable', {}, 30_000);
        if (!importable.some((p) => p.name === req.pool)) throw new TandemError(ErrorCode.PoolNotImportable, `pool ${req.pool} is not importable on ${req.node}`, 'pool');
      }
      const now = () => new Date();
      let pool = begin(newPool(req.pool, req.vips, req.shares, req.fc, now()), 'attach', now());
      pool = { ...pool, node: req.node, ...(req.luns.length ? { luns: numberLuns(req.luns) } : {}) };
      const rev = await this.store.put(pool, 0);
      return this.bringUpOrInactive(pool, rev, req.node, 'attach', { reason: 'attach', peer: null, actor: req.actor });
    });
  }

  /**
   * A shared-nothing pool: every online node must have its own pool of that name (imported or
   * importable there); `req.node` serves it, the others import theirs as passive replicas, and the
   * replication-scheduler starts the bootstrap at once. Pools of unequal sizes are a warning.
   */
  private async attachReplicated(req: PoolOpParsed<'pool.attach'>): Promise<PoolOpResults['pool.attach']> {
    const nodes = await this.nodes();
    const present = await Promise.all(
      nodes.map(async (n) => {
        const [imported, importable] = await Promise.all([this.host.call(n, 'pool.list', {}, 10_000), this.host.call(n, 'pool.importable', {}, 30_000)]).catch((err: Error) => {
          throw new TandemError(ErrorCode.Unavailable, `cannot ask ${n} about pool ${req.pool}: ${err.message}`, 'node');
        });
        return { node: n, ok: imported.some((p) => p.name === req.pool) || importable.some((p) => p.name === req.pool) };
      }),
    );
    const lacking = present.filter((p) => !p.ok).map((p) => p.node);
    if (lacking.length) {
      throw new TandemError(
        ErrorCode.PoolNotImportable,
        `a replicated pool needs its own pool named ${req.pool} on every node: ${lacking.join(', ')} ${lacking.length > 1 ? 'have' : 'has'} none (create it on that node's own disks, then attach again)`,
        'pool',
      );
    }
    const now = () => new Date();
    const pool: HaPool = { ...begin({ ...newPool(req.pool, req.vips, req.shares, req.fc, now()), mode: 'replicated' }, 'attach', now()), node: req.node };
    const rev = await this.store.put(pool, 0);
    const done = await this.bringUpOrInactive(pool, rev, req.node, 'attach', { reason: 'attach', peer: null, actor: req.actor });
    const warnings: string[] = [];
    for (const n of nodes.filter((x) => x !== req.node)) {
      await this.sync
        .importAs(n, req.pool, 'replica', done.epoch)
        .catch((err: Error) => warnings.push(`${n} could not import its copy as a passive replica yet (${err.message}); replication tries again on its schedule`));
    }
    const sizes = await Promise.all(
      nodes.map(async (n) => ({ node: n, bytes: (await this.host.call(n, 'pool.list', {}, 10_000).catch(() => [])).find((p) => p.name === req.pool)?.sizeBytes ?? null })),
    );
    const known = sizes.filter((s): s is { node: string; bytes: number } => s.bytes !== null && s.bytes > 0);
    const min = Math.min(...known.map((s) => s.bytes));
    const max = Math.max(...known.map((s) => s.bytes));
    if (known.length > 1 && max > min * 1.1) {
      const w = `the copies of pool ${req.pool} differ in size by more than 10 % (${known.map((s) => `${s.node} ${Math.round(s.bytes / 2 ** 20)} MiB`).join(', ')}): the smaller may fill up during sync`;
      warnings.push(w);
      this.events.publish(Events.replicationWarning, req.pool, { reason: w });
    }
    for (const w of warnings) this.logger.warn(`attach ${req.pool}: ${w}`);
    return { ...done, warnings };
  }

  /**
   * Bring the pool up on `node` at the next epoch — its `pre-start` hooks first (a failing one
   * keeps it from starting there), its `post-start` hooks once it serves; on failure release it
   * there and record it inactive.
   */
  private async bringUpOrInactive(pool: HaPool, rev: number, node: string, what: string, hook: { reason: HookReason; peer: string | null; actor: string }): Promise<HaPool> {
    const epoch = pool.epoch + 1;
    const call = { pool: pool.name, node, epoch, ...hook };
    try {
      await this.hooks.preStart(call);
      const steps = bringUpSteps(pool, node, epoch);
      await this.actions.run(
        pool,
        steps.filter((s) => !isServiceStart(s)),
        null,
      );
      // shares live under the pool's mountpoint, known once it is imported
      const mountpoint = await this.actions.mountpoint(pool.name, node);
      const withMp = { ...pool, mountpoint };
      // an attach makes the LUNs it was given (kept when they exist: the pool was attached before)
      if (what === 'attach') for (const lun of pool.luns ?? []) await this.host.call(node, 'lun.create', { pool: pool.name, name: lun.name, sizeBytes: lun.sizeBytes }, 60_000);
      await this.actions.run(withMp, steps.filter(isServiceStart), mountpoint);
      const done = { ...serving(withMp, node, epoch, mountpoint, new Date()), ...this.actions.devicesOf(pool, node) };
      await this.store.put(done, rev);
      this.logger.log(`${what}: pool ${pool.name} serving on ${node} (epoch ${epoch})`);
      // the pool serves whatever they say: a failing one is in the activity log
      await this.hooks.run('post-start', call);
      return done;
    } catch (err) {
      const failures = await this.actions.runAll(pool, bringDownSteps({ ...pool, epoch }, node, true));
      const reason = `${what} on ${node} failed: ${(err as Error).message}${failures.length ? `; releasing it there also failed: ${failures.join('; ')}` : ''}`;
      const fresh = await this.store.get(pool.name);
      await this.store.put({ ...inactive(pool, reason, new Date()), epoch }, fresh?.revision ?? rev);
      throw new TandemError((err as TandemError).code ?? ErrorCode.Internal, reason, (err as TandemError).field);
    }
  }

  move(req: PoolOpParsed<'pool.move'>): Promise<PoolOpResults['pool.move']> {
    return this.recorded(req.actor, 'pool.move', req.pool, { 'tandem.to': req.to }, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      checkMove(pool, req.to, await this.nodes());
      const from = pool.node!;
      if (pool.mode === 'replicated' && pool.syncLock) {
        throw new TandemError(
          ErrorCode.SyncLocked,
          `${syncLockedMessage(pool.name)} A move needs a final sync: look at ${pool.syncLock.from}'s copy, then run tandem replication resume ${pool.name}`,
          'pool',
        );
      }
      const moving = begin(pool, `move to ${req.to}`, new Date());
      let rev = await this.store.put(moving, revision);
      const stopHook = { pool: pool.name, node: from, epoch: pool.epoch, reason: 'move' as const, peer: req.to, actor: req.actor };
      // the operator's pre-stop hooks: a failing one is logged, the move goes on
      await this.hooks.run('pre-stop', stopHook);
      // a replicated pool: clients stop, then one last snapshot is sent and applied on the target (nothing is lost)
      let finalSync: { snapshot: string; bytes: number; ms: number } | null = null;
      if (pool.mode === 'replicated') {
        try {
          finalSync = await this.finalSync(moving, from, req.to);
        } catch (err) {
          return this.restoreOrInactive(moving, rev, from, `move to ${req.to} failed in the final sync: ${(err as Error).message}`, req.actor);
        }
      }
      // 1. release on the source: shares, IPs, export (forced if it must)
      try {
        await this.actions.run(moving, bringDownSteps(moving, from), moving.mountpoint);
      } catch (err) {
        // still imported on the source: put it back in service there
        this.logger.warn(`move of ${pool.name}: release on ${from} failed, restoring it there`);
        return this.restoreOrInactive(moving, rev, from, `move to ${req.to} failed while releasing it on ${from}: ${(err as Error).message}`, req.actor);
      }
      await this.hooks.run('post-stop', stopHook);
      // 2. bring up on the target
      try {
        const done = await this.bringUpOrInactive(moving, rev, req.to, `move to ${req.to}`, { reason: 'move', peer: from, actor: req.actor });
        return finalSync ? { ...done, finalSync } : done;
      } catch (err) {
        const after = await this.store.require(pool.name);
        rev = after.revision;
        this.logger.warn(`move of ${pool.name}: bring-up on ${req.to} failed, returning it to ${from}`);
        return this.restoreOrInactive({ ...after.pool, state: 'in-transition', operation: `return to ${from}` }, rev, from, (err as Error).message, req.actor);
      }
    });
  }

  /** Floating IPs down on the source, a last snapshot there, pulled and applied by the target: its size and time. */
  private async finalSync(pool: HaPool, from: string, to: string): Promise<{ snapshot: string; bytes: number; ms: number }> {
    const t0 = performance.now();
    await this.actions.run(
      pool,
      bringDownSteps(pool, from).filter((s) => s.kind === 'ip.remove'),
      null,
    );
    const { cluster } = await this.cluster.require();
    const schedule = effectiveSchedule(cluster.replication, pool.replication);
    const endpoint = replicationEndpoint(cluster, from);
    if (!endpoint) throw new TandemError(ErrorCode.InvalidArgument, `node ${from} has no replication address: set one with tandem replication settings --ssh-address ${from}=IP`, 'pool');
    await this.sync.importAs(to, pool.name, 'replica', pool.epoch);
    const snap = await this.sync.snapshot(from, pool.name, schedule.retention, []);
    const r = await this.sync.pull({ pool: pool.name, from, to, address: endpoint.address, port: endpoint.port, stallTimeoutS: schedule.stallTimeoutS, keepAside: false });
    if (r.snapshot !== snap.snapshot) throw new TandemError(ErrorCode.StreamFailed, `the final snapshot ${snap.snapshot} did not arrive on ${to} (it holds ${r.snapshot ?? 'none'})`, 'pool');
    this.logger.log(`move of ${pool.name}: final sync ${snap.snapshot} to ${to}: ${r.bytes} bytes in ${Math.round(performance.now() - t0)} ms`);
    return { snapshot: snap.snapshot, bytes: r.bytes, ms: Math.round(performance.now() - t0) };
  }

  /** After a failed step: try to serve on `node` again; throw the original failure either way. */
  private async restoreOrInactive(pool: HaPool, rev: number, node: string, failure: string, actor = 'cluster'): Promise<never> {
    let back: HaPool;
    try {
      back = await this.bringUpOrInactive(pool, rev, node, 'restore', { reason: 'restore', peer: null, actor });
    } catch (err) {
      throw new TandemError(ErrorCode.CommandFailed, `${failure}; restoring it on ${node} failed too — the pool is inactive: ${(err as Error).message}`, 'pool');
    }
    throw new TandemError(ErrorCode.CommandFailed, `${failure} — the pool serves on ${back.node} again`, 'pool');
  }

  detach(req: PoolOpParsed<'pool.detach'>): Promise<PoolOpResults['pool.detach']> {
    return this.recorded(req.actor, 'pool.detach', req.pool, {}, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      assertNotInTransition(pool);
      await this.store.remove(pool.name, revision);
      return { pool: pool.name, node: pool.node };
    });
  }

  export(req: PoolOpParsed<'pool.export'>): Promise<PoolOpResults['pool.export']> {
    return this.recorded(req.actor, 'pool.export', req.pool, {}, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      assertNotInTransition(pool);
      if (pool.state !== 'serving' || !pool.node) {
        const done = inactive(pool, `exported by ${req.actor}`, new Date());
        await this.store.put(done, revision);
        return done;
      }
      const node = pool.node;
      const exporting = begin(pool, 'export', new Date());
      const rev = await this.store.put(exporting, revision);
      const stopHook = { pool: pool.name, node, epoch: pool.epoch, reason: 'export' as const, peer: null, actor: req.actor };
      await this.hooks.run('pre-stop', stopHook);
      try {
        await this.actions.run(exporting, bringDownSteps(exporting, node), exporting.mountpoint);
      } catch (err) {
        return this.restoreOrInactive(exporting, rev, node, `export failed: ${(err as Error).message}`, req.actor);
      }
      await this.hooks.run('post-stop', stopHook);
      const done = inactive(exporting, `exported by ${req.actor}`, new Date());
      await this.store.put(done, rev);
      return done;
    });
  }

  reattach(req: PoolOpParsed<'pool.reattach'>): Promise<PoolOpResults['pool.reattach']> {
    return this.recorded(req.actor, 'pool.reattach', req.pool, { 'tandem.node': req.node }, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      checkReattach(pool, req.node, await this.nodes());
      // a replicated pool has a copy on every node: only its serving one matters
      const elsewhere = pool.mode === 'replicated' ? [] : (await this.importedOn(pool.name)).filter((n) => n !== req.node);
      if (elsewhere.length) throw new TandemError(ErrorCode.PoolImportedElsewhere, `pool ${pool.name} is imported on ${elsewhere.join(', ')}: export it there first`, 'node');
      const starting = { ...begin(pool, 'reattach', new Date()), node: req.node };
      const rev = await this.store.put(starting, revision);
      return this.bringUpOrInactive(starting, rev, req.node, 'reattach', { reason: 'reattach', peer: null, actor: req.actor });
    });
  }

  remove(req: PoolOpParsed<'pool.remove'>): Promise<PoolOpResults['pool.remove']> {
    return this.recorded(req.actor, 'pool.remove', req.pool, {}, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      assertNotInTransition(pool);
      if (pool.state === 'serving') throw new TandemError(ErrorCode.InvalidArgument, `pool ${pool.name} serves on ${pool.node}: export it first (or detach it to leave it running unmanaged)`, 'pool');
      await this.store.remove(pool.name, revision);
      return { pool: pool.name };
    });
  }

  /** The operator says `node` may run the pool again (after an automatic failover away from it). */
  markUsable(req: PoolOpParsed<'pool.mark-usable'>): Promise<PoolOpResults['pool.mark-usable']> {
    return this.recorded(req.actor, 'pool.mark-usable', req.pool, { 'tandem.node': req.node }, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      const { cluster } = await this.cluster.require();
      if (!cluster.nodes.some((n) => n.id === req.node)) throw new TandemError(ErrorCode.UnknownNode, `node ${req.node} is not in cluster ${cluster.id}`, 'node');
      const failedOn = pool.failedOn ?? [];
      if (!failedOn.includes(req.node)) return pool;
      const next: HaPool = { ...pool, failedOn: failedOn.filter((n) => n !== req.node), updatedAt: new Date().toISOString() };
      await this.store.put(next, revision);
      this.logger.log(`pool ${pool.name} may run on ${req.node} again`);
      return next;
    });
  }

  /** Add a snapshot schedule (or change the one of that name); whichever node serves the pool carries it out (replication-scheduler). */
  scheduleAdd(req: PoolOpParsed<'pool.schedule-add'>): Promise<PoolOpResults['pool.schedule-add']> {
    return this.recorded(req.actor, 'pool.schedule-add', req.pool, { 'tandem.schedule': req.name }, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      assertNotInTransition(pool);
      const next: HaPool = {
        ...pool,
        snapshotSchedules: withSchedule(pool.snapshotSchedules ?? [], { name: req.name, everyS: req.every, keep: req.keep }, pool.name),
        updatedAt: new Date().toISOString(),
      };
      await this.store.put(next, revision);
      this.logger.log(`pool ${pool.name}: snapshot schedule ${req.name} every ${req.every} s, keeping ${req.keep}`);
      return next;
    });
  }

  /** The pool's target as initiators see it: the same IQN, LUN numbers, serials and identifiers from every node. */
  async lunList(name: string): Promise<PoolOpResults['pool.lun-list']> {
    const { pool } = await this.store.require(name);
    return { ...poolLuns((await this.cluster.require()).cluster.id, pool), chapUser: (await this.chap.get(pool.name))?.user ?? null };
  }

  /**
   * Initiators log in to the pool's target with CHAP from now on: kept for every node that will
   * serve the pool, and a running target is started again with it (its open sessions end: the
   * initiators log in again, with CHAP).
   */
  chapSet(req: PoolOpParsed<'pool.chap-set'>): Promise<PoolOpResults['pool.chap-set']> {
    return this.recorded(req.actor, 'pool.chap-set', req.pool, { 'tandem.chap.user': req.user }, async () => {
      const { pool } = await this.store.require(req.pool);
      if (pool.mode === 'replicated') throw new TandemError(ErrorCode.InvalidArgument, `pool ${pool.name} is replicated: it has no iSCSI target`, 'pool');
      await this.chap.set(pool.name, { user: req.user, secret: req.secret });
      await this.restartTarget(pool);
      this.logger.log(`pool ${pool.name}: its target asks initiators for CHAP (user ${req.user})`);
      return this.lunList(pool.name);
    });
  }

  /** The pool's target lets initiators in without CHAP again. */
  chapClear(req: PoolOpParsed<'pool.chap-clear'>): Promise<PoolOpResults['pool.chap-clear']> {
    return this.recorded(req.actor, 'pool.chap-clear', req.pool, {}, async () => {
      const { pool } = await this.store.require(req.pool);
      if (!(await this.chap.clear(pool.name))) throw new TandemError(ErrorCode.NotFound, `pool ${pool.name} has no CHAP to clear`, 'pool');
      await this.restartTarget(pool);
      this.logger.log(`pool ${pool.name}: its target no longer asks for CHAP`);
      return this.lunList(pool.name);
    });
  }

  /** A serving pool's running target is started again with what is recorded now (its CHAP). */
  private async restartTarget(pool: HaPool): Promise<void> {
    if (pool.state === 'serving' && pool.node && hasTarget(pool)) await this.actions.run(pool, [{ kind: 'target.start', node: pool.node }], pool.mountpoint);
  }

  /** Adds a LUN: its backing made on the serving node, then the running target takes it (no restart). */
  lunAdd(req: PoolOpParsed<'pool.lun-add'>): Promise<PoolOpResults['pool.lun-add']> {
    return this.recorded(req.actor, 'pool.lun-add', req.pool, { 'tandem.lun': req.name }, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      const luns = pool.luns ?? [];
      if (luns.some((l) => l.name === req.name)) throw new TandemError(ErrorCode.AlreadyExists, `pool ${pool.name} already has LUN ${req.name}`, 'name');
      if (pool.mode === 'replicated') throw new TandemError(ErrorCode.InvalidArgument, `pool ${pool.name} is replicated: LUNs are served from shared-storage pools only`, 'pool');
      if (!pool.fc && pool.vips.length === 0) throw new TandemError(ErrorCode.InvalidArgument, `pool ${pool.name} has no floating IP (and no FC): an iSCSI LUN needs one to be reached`, 'pool');
      requireServing(pool, 'add a LUN to');
      if (luns.length >= 255) throw new TandemError(ErrorCode.InvalidArgument, `pool ${pool.name} has 255 LUNs, the most a target serves`, 'name');
      const lun = { name: req.name, number: nextLunNumber(luns), sizeBytes: req.sizeBytes };
      const next: HaPool = { ...pool, luns: [...luns, lun], updatedAt: new Date().toISOString() };
      await this.host.call(pool.node!, 'lun.create', { pool: pool.name, name: lun.name, sizeBytes: lun.sizeBytes }, 60_000);
      await this.actions.run(next, [{ kind: 'target.start', node: pool.node! }], pool.mountpoint);
      await this.store.put(next, revision);
      this.logger.log(`pool ${pool.name}: LUN ${lun.number} (${lun.name}, ${lun.sizeBytes} bytes) served on ${pool.node}`);
      return next;
    });
  }

  /** Drop a snapshot schedule; the snapshots it took stay. */
  scheduleRemove(req: PoolOpParsed<'pool.schedule-remove'>): Promise<PoolOpResults['pool.schedule-remove']> {
    return this.recorded(req.actor, 'pool.schedule-remove', req.pool, { 'tandem.schedule': req.name }, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      assertNotInTransition(pool);
      const next: HaPool = { ...pool, snapshotSchedules: withoutSchedule(pool.snapshotSchedules ?? [], req.name, pool.name), updatedAt: new Date().toISOString() };
      await this.store.put(next, revision);
      return next;
    });
  }
  /** Takes a LUN out of the target, then destroys its backing. */
  lunRemove(req: PoolOpParsed<'pool.lun-remove'>): Promise<PoolOpResults['pool.lun-remove']> {
    return this.recorded(req.actor, 'pool.lun-remove', req.pool, { 'tandem.lun': req.name }, async () => {
      const { pool, revision } = await this.store.require(req.pool);
      const luns = pool.luns ?? [];
      if (!luns.some((l) => l.name === req.name))
        throw new TandemError(ErrorCode.NotFound, `pool ${pool.name} has no LUN ${req.name} (its LUNs: ${luns.map((l) => l.name).join(', ') || 'none'})`, 'name');
      requireServing(pool, 'remove a LUN from');
      const next: HaPool = { ...pool, luns: luns.filter((l) => l.name !== req.name), updatedAt: new Date().toISOString() };
      await this.actions.run(next, [{ kind: hasTarget(next) ? 'target.start' : 'target.stop', node: pool.node! }], pool.mountpoint);
      await this.store.put(next, revision);
      await this.host.call(pool.node!, 'lun.destroy', { pool: pool.name, name: req.name }, 60_000);
      this.logger.log(`pool ${pool.name}: LUN ${req.name} removed`);
      return next;
    });
  }
}

/** LUNs asked for at attach, numbered from 1 in their order. */
function numberLuns(luns: Array<{ name: string; sizeBytes: number }>): NonNullable<HaPool['luns']> {
  return luns.map((l, i) => ({ name: l.name, number: i + 1, sizeBytes: l.sizeBytes }));
}

function requireServing(pool: HaPool, what: string): void {
  if (pool.state !== 'serving' || !pool.node)
    throw new TandemError(
      pool.state === 'in-transition' ? ErrorCode.InTransition : ErrorCode.InvalidArgument,
      `pool ${pool.name} is ${pool.state}${pool.operation ? ` (${pool.operation})` : ''}: ${what} it while it serves (reattach it first)`,
      'pool',
    );
}

/** The pool's target as initiators see it. */
export function poolLuns(clusterId: string, pool: HaPool): PoolOpResults['pool.lun-list'] {
  return {
    pool: pool.name,
    iqn: poolIqn(clusterId, pool.name),
    portals: pool.vips.map((v) => portalOf(v.address)),
    fc: pool.fc,
    luns: [...(pool.luns ?? [])].sort((a, b) => a.number - b.number).map((l) => ({ ...l, ...pick(lunIdentity(clusterId, pool.name, l)) })),
  };
}

function pick(id: { serial: string; deviceId: string }): { serial: string; deviceId: string } {
  return { serial: id.serial, deviceId: id.deviceId };
}
