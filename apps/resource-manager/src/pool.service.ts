import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, Events, TandemError, effectiveSchedule, syncLockedMessage, type FloatingIp, type HaPool, type PoolOpParsed, type PoolOpResults } from '@tandem/contracts';
import {
  assertNotInTransition,
  begin,
  bringDownSteps,
  bringUpSteps,
  checkMove,
  checkReattach,
  checkSharesUnique,
  checkVipsFree,
  checkVipsOffClusterNetworks,
  inactive,
  newPool,
  serving,
} from '@tandem/domain';
import { HostClient, OrderedEvents } from '@tandem/messaging';
import { ReplicationSync, replicationEndpoint } from '@tandem/replication';
import { inSpan } from '@tandem/telemetry';
import { ActivityService } from './activity.service';
import { PoolActions } from './pool-actions.service';
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
      pool = { ...pool, node: req.node };
      const rev = await this.store.put(pool, 0);
      return this.bringUpOrInactive(pool, rev, req.node, 'attach');
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
    const done = await this.bringUpOrInactive(pool, rev, req.node, 'attach');
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

  /** Bring the pool up on `node` at the next epoch; on failure release it there and record it inactive. */
  private async bringUpOrInactive(pool: HaPool, rev: number, node: string, what: string): Promise<HaPool> {
    const epoch = pool.epoch + 1;
    try {
      const steps = bringUpSteps(pool, node, epoch);
      await this.actions.run(
        pool,
        steps.filter((s) => s.kind !== 'share.start'),
        null,
      );
      // shares live under the pool's mountpoint, known once it is imported
      const mountpoint = await this.actions.mountpoint(pool.name, node);
      const withMp = { ...pool, mountpoint };
      await this.actions.run(
        withMp,
        steps.filter((s) => s.kind === 'share.start'),
        mountpoint,
      );
      const done = serving(withMp, node, epoch, mountpoint, new Date());
      await this.store.put(done, rev);
      this.logger.log(`${what}: pool ${pool.name} serving on ${node} (epoch ${epoch})`);
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
      // a replicated pool: clients stop, then one last snapshot is sent and applied on the target (nothing is lost)
      let finalSync: { snapshot: string; bytes: number; ms: number } | null = null;
      if (pool.mode === 'replicated') {
        try {
          finalSync = await this.finalSync(moving, from, req.to);
        } catch (err) {
          return this.restoreOrInactive(moving, rev, from, `move to ${req.to} failed in the final sync: ${(err as Error).message}`);
        }
      }
      // 1. release on the source: shares, IPs, export (forced if it must)
      try {
        await this.actions.run(moving, bringDownSteps(moving, from), moving.mountpoint);
      } catch (err) {
        // still imported on the source: put it back in service there
        this.logger.warn(`move of ${pool.name}: release on ${from} failed, restoring it there`);
        return this.restoreOrInactive(moving, rev, from, `move to ${req.to} failed while releasing it on ${from}: ${(err as Error).message}`);
      }
      // 2. bring up on the target
      try {
        const done = await this.bringUpOrInactive(moving, rev, req.to, `move to ${req.to}`);
        return finalSync ? { ...done, finalSync } : done;
      } catch (err) {
        const after = await this.store.require(pool.name);
        rev = after.revision;
        this.logger.warn(`move of ${pool.name}: bring-up on ${req.to} failed, returning it to ${from}`);
        return this.restoreOrInactive({ ...after.pool, state: 'in-transition', operation: `return to ${from}` }, rev, from, (err as Error).message);
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
  private async restoreOrInactive(pool: HaPool, rev: number, node: string, failure: string): Promise<never> {
    let back: HaPool;
    try {
      back = await this.bringUpOrInactive(pool, rev, node, 'restore');
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
      try {
        await this.actions.run(exporting, bringDownSteps(exporting, node), exporting.mountpoint);
      } catch (err) {
        return this.restoreOrInactive(exporting, rev, node, `export failed: ${(err as Error).message}`);
      }
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
      return this.bringUpOrInactive(starting, rev, req.node, 'reattach');
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
}
