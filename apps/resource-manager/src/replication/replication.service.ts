import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DEFAULT_SSH_PORT,
  ErrorCode,
  Events,
  TandemError,
  effectiveSchedule,
  formatDuration,
  syncLockedMessage,
  type ClusterRecord,
  type HaPool,
  type RmOpParsed,
  type RmOpResults,
  type ReplicationPoolStatus,
  type ReplicationSchedule,
  type ReplicationState,
} from '@tandem/contracts';
import { replicationWindows } from '@tandem/domain';
import { HostClient, OrderedEvents, type KvRecordStore } from '@tandem/messaging';
import { inSpan } from '@tandem/telemetry';
import { ActivityService } from '../activity.service';
import { ClusterStore } from '../cluster.store';
import { PoolStore } from '../pool.store';
import { REPLICATION_STORE } from './replication.store';

/** The worst state of a pool's replicas, as one word for the pool. */
const RANK: Record<ReplicationPoolStatus['state'], number> = { locked: 5, error: 4, bootstrapping: 3, syncing: 2, waiting: 1, 'in-sync': 0 };

/**
 * The operator's side of shared-nothing replication: its settings (cluster-wide, or per pool),
 * its status, resuming sync after an automatic failover, and rotating a node's replication keys.
 * The schedules themselves run in the replication-scheduler.
 */
@Injectable()
export class ReplicationService {
  private readonly logger = new Logger('replication');

  constructor(
    private readonly clusters: ClusterStore,
    private readonly pools: PoolStore,
    private readonly host: HostClient,
    private readonly activity: ActivityService,
    private readonly events: OrderedEvents,
    @Inject(REPLICATION_STORE) private readonly states: Pick<KvRecordStore<ReplicationState>, 'get'>,
  ) {}

  private recorded<T>(actor: string, action: string, target: string, fn: () => Promise<T>): Promise<T> {
    return inSpan(action, { 'tandem.target': target }, () => this.activity.track(actor, action, target, fn));
  }

  private async replicatedPool(name: string): Promise<{ pool: HaPool; revision: number }> {
    const p = await this.pools.require(name);
    if (p.pool.mode !== 'replicated')
      throw new TandemError(ErrorCode.InvalidArgument, `pool ${name} is not a replicated pool (it is on shared storage): replication settings do not apply to it`, 'pool');
    return p;
  }

  async settings(req: RmOpParsed<'replication.settings'>): Promise<RmOpResults['replication.settings']> {
    const changes: Partial<ReplicationSchedule> = {};
    if (req.snapshotInterval !== undefined) changes.snapshotIntervalS = req.snapshotInterval;
    if (req.retention !== undefined) changes.retention = req.retention;
    if (req.pullInterval !== undefined) changes.pullIntervalS = req.pullInterval;
    if (req.stallTimeout !== undefined) changes.stallTimeoutS = req.stallTimeout;
    if (req.pool && req.sshAddresses) throw new TandemError(ErrorCode.InvalidArgument, 'sshAddresses: a node’s replication address is cluster-wide, not per pool (leave --pool out)', 'sshAddresses');
    const changing = Object.keys(changes).length > 0 || req.sshAddresses !== undefined;
    const notes: string[] = [];
    const show = async () => this.describe(req.pool ?? null, notes);
    if (!changing) return show();
    return this.recorded(req.actor, 'replication.settings', req.pool ?? 'cluster', async () => {
      const { cluster, revision } = await this.clusters.require();
      if (req.sshAddresses) {
        const unknown = Object.keys(req.sshAddresses).filter((n) => !cluster.nodes.some((m) => m.id === n));
        if (unknown.length) throw new TandemError(ErrorCode.UnknownNode, `sshAddresses: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not in cluster ${cluster.id}`, 'sshAddresses');
      }
      if (req.pool) {
        const { pool, revision: rev } = await this.replicatedPool(req.pool);
        await this.pools.put({ ...pool, replication: { ...pool.replication, ...changes }, updatedAt: new Date().toISOString() }, rev);
      } else {
        const replication = { ...cluster.replication, ...changes, ...(req.sshAddresses ? { sshAddresses: { ...cluster.replication?.sshAddresses, ...req.sshAddresses } } : {}) };
        await this.clusters.put({ ...cluster, replication }, revision);
      }
      if (changes.snapshotIntervalS !== undefined) {
        for (const s of await this.poolStates(req.pool)) {
          notes.push(
            `pool ${s.pool}: the new snapshot interval (${formatDuration(changes.snapshotIntervalS)}) takes effect when the running timer next fires${s.nextSnapshotAt ? `, at ${s.nextSnapshotAt}` : ''}`,
          );
        }
        if (!notes.length) notes.push(`the new snapshot interval (${formatDuration(changes.snapshotIntervalS)}) takes effect when each pool's running timer next fires`);
      }
      return show();
    });
  }

  private async poolStates(pool?: string): Promise<ReplicationState[]> {
    const names = pool ? [pool] : (await this.pools.list()).filter((p) => p.mode === 'replicated').map((p) => p.name);
    const out: ReplicationState[] = [];
    for (const n of names) {
      const s = await this.states.get(n).catch(() => null);
      if (s) out.push(s.value);
    }
    return out;
  }

  private async describe(pool: string | null, notes: string[]): Promise<RmOpResults['replication.settings']> {
    const { cluster } = await this.clusters.require();
    const own = pool ? (await this.replicatedPool(pool)).pool.replication : undefined;
    const schedule = effectiveSchedule(cluster.replication, own);
    const warnings =
      schedule.pullIntervalS > schedule.snapshotIntervalS
        ? [
            `the pull interval (${formatDuration(schedule.pullIntervalS)}) is longer than the snapshot interval (${formatDuration(schedule.snapshotIntervalS)}): passives will trail by more than one snapshot`,
          ]
        : [];
    return { pool, schedule, sshPort: cluster.replication?.sshPort ?? DEFAULT_SSH_PORT, sshAddresses: sshAddresses(cluster), ...replicationWindows(schedule), warnings, notes };
  }

  async status(req: RmOpParsed<'replication.status'>): Promise<RmOpResults['replication.status']> {
    const { cluster } = await this.clusters.require();
    const pools = req.pool ? [(await this.replicatedPool(req.pool)).pool] : (await this.pools.list()).filter((p) => p.mode === 'replicated');
    return Promise.all(pools.map(async (p) => poolStatus(cluster, p, (await this.states.get(p.name).catch(() => null))?.value ?? null)));
  }

  /** `mark_sync_as_fixed`: the lock is lifted; the scheduler keeps the old node's diverged data aside before it receives again. */
  async resume(req: RmOpParsed<'replication.resume'>): Promise<RmOpResults['replication.resume']> {
    return this.recorded(req.actor, 'replication.resume', req.pool, async () => {
      const { pool, revision } = await this.replicatedPool(req.pool);
      if (!pool.syncLock) throw new TandemError(ErrorCode.InvalidArgument, `sync for ${pool.name} is not locked: nothing to resume (tandem replication status ${pool.name})`, 'pool');
      const lock = pool.syncLock;
      await this.pools.put({ ...pool, syncLock: null, updatedAt: new Date().toISOString() }, revision);
      const { cluster } = await this.clusters.require();
      const to = cluster.nodes.filter((n) => n.id !== pool.node && n.adminState === 'online').map((n) => n.id);
      this.logger.log(`sync of ${pool.name} resumed by ${req.actor}: ${pool.node} → ${to.join(', ')}; ${lock.from}'s diverged data is kept aside before it syncs`);
      this.events.publish(Events.replicationResumed, pool.name, { by: req.actor, from: pool.node ?? lock.to, to });
      const fresh = await this.pools.require(pool.name);
      return poolStatus(cluster, fresh.pool, (await this.states.get(pool.name).catch(() => null))?.value ?? null);
    });
  }

  /**
   * New keys for `node` without a pause: its new keys are pinned beside the old ones everywhere,
   * then it switches to them, then the old ones are dropped.
   */
  async rotateKeys(req: RmOpParsed<'replication.keys-rotate'>): Promise<RmOpResults['replication.keys-rotate']> {
    return this.recorded(req.actor, 'replication.keys-rotate', req.node, async () => {
      const before = await this.clusters.require();
      const member = before.cluster.nodes.find((n) => n.id === req.node);
      if (!member) throw new TandemError(ErrorCode.UnknownNode, `node ${req.node} is not in cluster ${before.cluster.id}`, 'node');
      const next = await this.host.call(req.node, 'ssh.rotate', { phase: 'prepare' }, 30_000);
      const old = member.ssh ?? { hostKeys: [], clientKeys: [] };
      await this.pinKeys(req.node, { hostKeys: [...new Set([...old.hostKeys, next.hostKey])], clientKeys: [...new Set([...old.clientKeys, next.clientKey])] });
      await this.host.call(req.node, 'ssh.rotate', { phase: 'commit' }, 30_000);
      await this.pinKeys(req.node, { hostKeys: [next.hostKey], clientKeys: [next.clientKey] });
      return { node: req.node, hostKey: next.hostKey, clientKey: next.clientKey };
    });
  }

  private async pinKeys(node: string, ssh: { hostKeys: string[]; clientKeys: string[] }): Promise<void> {
    const { cluster, revision } = await this.clusters.require();
    await this.clusters.put({ ...cluster, nodes: cluster.nodes.map((n) => (n.id === node ? { ...n, ssh } : n)) }, revision);
  }
}

function sshAddresses(cluster: ClusterRecord): Record<string, string> {
  return Object.fromEntries(cluster.nodes.map((n) => [n.id, cluster.replication?.sshAddresses?.[n.id] ?? n.heartbeatAddress ?? '']).filter(([, a]) => a));
}

/** One pool's replication as the operator reads it. */
export function poolStatus(cluster: ClusterRecord, pool: HaPool, state: ReplicationState | null): ReplicationPoolStatus {
  const schedule = effectiveSchedule(cluster.replication, pool.replication);
  const replicas = Object.entries(state?.replicas ?? {});
  const lock = pool.syncLock ?? null;
  // a replica the scheduler still marks locked after a resume waits for its next pull
  const stateOf = (r: ReplicationPoolStatus['state']) => (r === 'locked' && !lock ? 'waiting' : r);
  const worst = replicas.reduce<ReplicationPoolStatus['state']>((w, [, r]) => (RANK[stateOf(r.state)] > RANK[w] ? stateOf(r.state) : w), replicas.length ? 'in-sync' : 'waiting');
  const error = replicas.find(([, r]) => r.state === 'error');
  return {
    pool: pool.name,
    active: pool.node,
    direction: pool.node ? `${pool.node} → ${replicas.map(([n]) => n).join(', ') || '(no passive)'}` : null,
    state: lock ? 'locked' : worst,
    message: lock ? syncLockedMessage(pool.name) : error ? `${error[0]}: ${error[1].reason}` : null,
    possiblyMissingS: lock?.lastSnapshotAt ? Math.max(0, Math.round((Date.parse(lock.at) - Date.parse(lock.lastSnapshotAt)) / 1000)) : null,
    schedule,
    ...replicationWindows(schedule),
    replication: state,
  };
}
