import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, TandemError, type ClusterOpParsed, type ClusterOpResults, type ClusterRecord, type NodeStatus, type ReplicationState } from '@tandem/contracts';
import { HeartbeatClient, HostClient, type KvRecordStore } from '@tandem/messaging';
import { REPLICATION_STORE } from './replication/replication.store';
import { poolStatus } from './replication/replication.service';
import { inSpan } from '@tandem/telemetry';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { ActivityService } from './activity.service';
import { FailoverStatusBoard } from './failover/failover-status.board';
import { ClusterStore } from './cluster.store';
import { PoolStore } from './pool.store';
import { PoolService } from './pool.service';
import { POOL_PARALLELISM } from './operation-locks';
import { runTreeTasks } from '@tandem/util';

/** Forming the cluster, joining nodes, taking them offline and back, maintenance mode. */
@Injectable()
export class ClusterService {
  private readonly logger = new Logger('cluster');

  constructor(
    private readonly store: ClusterStore,
    private readonly pools: PoolStore,
    private readonly poolService: PoolService,
    private readonly host: HostClient,
    private readonly activity: ActivityService,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly failover: FailoverStatusBoard,
    private readonly heartbeat: HeartbeatClient,
    @Inject(REPLICATION_STORE) private readonly replicationStates: Pick<KvRecordStore<ReplicationState>, 'get'>,
  ) {}

  private recorded<T>(actor: string, action: string, target: string, fn: () => Promise<T>): Promise<T> {
    return inSpan(action, { 'tandem.target': target }, () => this.activity.track(actor, action, target, fn));
  }

  /** The node's address on the heartbeat interface; the interface must exist there. */
  private async heartbeatAddress(node: string, iface: string): Promise<string | null> {
    let links;
    try {
      links = await this.host.call(node, 'link.list', {}, 10_000);
    } catch (err) {
      throw new TandemError(ErrorCode.Unavailable, `node ${node} does not answer: ${(err as Error).message}`, 'node');
    }
    if (!links.some((l) => l.name === iface))
      throw new TandemError(ErrorCode.InterfaceNotFound, `heartbeat interface ${iface} does not exist on ${node}: every node needs it under the same name`, 'heartbeatInterface');
    const addrs = await this.host.call(node, 'ip.list', { interface: iface }, 10_000);
    return addrs.find((a) => a.family === 4)?.address ?? addrs[0]?.address ?? null;
  }

  /** The node's replication SSH keys, pinned in the cluster record as it joins (its peers refuse any other host key from then on). */
  private async replicationKeys(node: string): Promise<{ hostKeys: string[]; clientKeys: string[] }> {
    const k = await this.host.call(node, 'ssh.keys', {}, 10_000).catch((err: Error) => {
      throw new TandemError(ErrorCode.Unavailable, `node ${node} did not give its replication keys: ${err.message}`, 'node');
    });
    return { hostKeys: [k.hostKey], clientKeys: [k.clientKey] };
  }

  create(req: ClusterOpParsed<'cluster.create'>): Promise<ClusterOpResults['cluster.create']> {
    return this.recorded(req.actor, 'cluster.create', req.node, async () => {
      const existing = await this.store.get();
      if (existing) throw new TandemError(ErrorCode.AlreadyExists, `node ${req.node} already belongs to cluster ${existing.cluster.id}`, 'cluster');
      const heartbeatAddress = await this.heartbeatAddress(req.node, req.heartbeatInterface);
      const ssh = await this.replicationKeys(req.node);
      const now = new Date().toISOString();
      const cluster: ClusterRecord = {
        id: this.ctx.config.clusterId,
        heartbeatInterface: req.heartbeatInterface,
        maintenance: false,
        createdAt: now,
        nodes: [{ id: req.node, heartbeatAddress, adminState: 'online', joinedAt: now, ssh }],
      };
      return this.store.put(cluster, 0);
    });
  }

  join(req: ClusterOpParsed<'cluster.join'>): Promise<ClusterOpResults['cluster.join']> {
    return this.recorded(req.actor, 'cluster.join', req.node, async () => {
      const { cluster, revision } = await this.store.require();
      if (cluster.nodes.some((n) => n.id === req.node)) throw new TandemError(ErrorCode.AlreadyExists, `node ${req.node} is already in cluster ${cluster.id}`, 'node');
      const heartbeatAddress = await this.heartbeatAddress(req.node, cluster.heartbeatInterface);
      const ssh = await this.replicationKeys(req.node);
      return this.store.put({ ...cluster, nodes: [...cluster.nodes, { id: req.node, heartbeatAddress, adminState: 'online', joinedAt: new Date().toISOString(), ssh }] }, revision);
    });
  }

  async status(): Promise<ClusterOpResults['cluster.status']> {
    const c = await this.store.get();
    if (!c) return { cluster: null, answeredBy: this.ctx.config.nodeId, nodes: [] };
    // the records and every node's answers are asked at once: one after the other their times added up
    const records = this.pools.list();
    records.catch(() => undefined); // its failure is thrown where it is awaited, not left unhandled meanwhile
    const nodes: NodeStatus[] = await Promise.all(
      c.cluster.nodes.map(async (m) => {
        // asked alongside the heartbeat; left unread (its failure too) when the node does not answer
        const probe = Promise.all([this.host.call(m.id, 'pool.list', {}, 5_000), this.host.call(m.id, 'link.list', {}, 5_000)]);
        probe.catch(() => undefined);
        const up = await this.heartbeat.alive(m.id, 1_000);
        let health: NodeStatus['health'] = 'unknown';
        let healthDetail: string | null = null;
        let heartbeatLink: NodeStatus['heartbeatLink'] = 'unknown';
        if (up) {
          try {
            const [poolList, links] = await probe;
            const bad = poolList.filter((p) => p.health !== 'ONLINE');
            health = bad.length ? 'degraded' : 'healthy';
            healthDetail = bad.length ? bad.map((p) => `${p.name} ${p.health}`).join(', ') : null;
            const hb = links.find((l) => l.name === c.cluster.heartbeatInterface);
            heartbeatLink = hb ? (hb.up && hb.carrier ? 'up' : 'down') : 'unknown';
          } catch (err) {
            health = 'unknown';
            healthDetail = (err as Error).message;
          }
        }
        return {
          id: m.id,
          state: m.adminState === 'offline' ? 'offline' : up ? 'online' : 'down',
          health,
          healthDetail,
          thisNode: m.id === this.ctx.config.nodeId,
          heartbeatAddress: m.heartbeatAddress,
          heartbeatLink,
          pools: (await records).filter((p) => p.node === m.id && p.state !== 'inactive').map((p) => p.name),
        };
      }),
    );
    const pools = await records;
    const { id, heartbeatInterface, maintenance, createdAt } = c.cluster;
    const replication = await Promise.all(
      pools.filter((p) => p.mode === 'replicated').map(async (p) => poolStatus(c.cluster, p, (await this.replicationStates.get(p.name).catch(() => null))?.value ?? null)),
    );
    // a locked pool is an alarm an operator must act on
    const failover = { ...this.failover.status, alarms: [...this.failover.status.alarms, ...replication.filter((r) => r.state === 'locked' && r.message).map((r) => r.message!)] };
    return { cluster: { id, heartbeatInterface, maintenance, createdAt }, answeredBy: this.ctx.config.nodeId, nodes, failover, replication };
  }

  /** Move the node's pools to other online nodes first; the last node going offline ends the cluster. */
  offline(req: ClusterOpParsed<'node.offline'>): Promise<ClusterOpResults['node.offline']> {
    return this.recorded(req.actor, 'node.offline', req.node, async () => {
      const { cluster } = await this.store.require();
      const member = cluster.nodes.find((n) => n.id === req.node);
      if (!member) throw new TandemError(ErrorCode.UnknownNode, `node ${req.node} is not in cluster ${cluster.id}`, 'node');
      if (member.adminState === 'offline') return { node: req.node, moved: [], clusterDestroyed: false, exported: [] };
      const others = cluster.nodes.filter((n) => n.adminState === 'online' && n.id !== req.node).map((n) => n.id);
      const all = await this.pools.list();
      const mine = all.filter((p) => p.node === req.node && p.state === 'serving');
      if (others.length === 0) {
        // the last node: stop shares and export every pool, then the cluster is no more
        const exported: string[] = [];
        for (const p of all.filter((x) => x.state === 'serving')) {
          await this.poolService.export({ pool: p.name, actor: req.actor });
          exported.push(p.name);
        }
        for (const p of await this.pools.list()) {
          const s = await this.pools.get(p.name);
          if (s) await this.pools.remove(p.name, s.revision);
        }
        const fresh = await this.store.require();
        await this.store.destroy(fresh.revision, cluster.id);
        this.logger.log(`last node ${req.node} taken offline: cluster ${cluster.id} destroyed, exported ${exported.join(', ') || 'nothing'}`);
        return { node: req.node, moved: [], clusterDestroyed: true, exported };
      }
      // mark offline first, so nothing is moved onto it meanwhile
      const withOff = await this.store.require();
      await this.store.put({ ...withOff.cluster, nodes: withOff.cluster.nodes.map((n) => (n.id === req.node ? { ...n, adminState: 'offline' as const } : n)) }, withOff.revision);
      const moved: Array<{ pool: string; to: string }> = [];
      // each pool to the least loaded online node, decided first; then moved POOL_PARALLELISM at a time
      const load = new Map(others.map((n) => [n, all.filter((p) => p.node === n && p.state === 'serving').length]));
      const plan = mine.map((p) => {
        const to = [...load.entries()].sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))[0][0];
        load.set(to, (load.get(to) ?? 0) + 1);
        return { pool: p.name, to };
      });
      const results = await runTreeTasks(
        plan,
        () => null,
        POOL_PARALLELISM,
        async (m) => {
          await this.poolService.move({ pool: m.pool, to: m.to, actor: req.actor });
          moved.push(m);
        },
      );
      const failed = results.flatMap((r, i) => (r.ok ? [] : [{ pool: plan[i].pool, error: r.error as TandemError }]));
      if (failed.length > 0) {
        // could not move everything away: the node stays online, the pools that remain stay served
        const back = await this.store.require();
        await this.store.put({ ...back.cluster, nodes: back.cluster.nodes.map((n) => (n.id === req.node ? { ...n, adminState: 'online' as const } : n)) }, back.revision);
        throw new TandemError(
          failed[0].error.code ?? ErrorCode.Internal,
          `node ${req.node} stays online: moving its pools away failed (${failed.map((f) => `${f.pool}: ${f.error.message}`).join('; ')}); moved: ${moved.map((m) => `${m.pool} → ${m.to}`).join(', ') || 'none'}`,
        );
      }
      return { node: req.node, moved, clusterDestroyed: false, exported: [] };
    });
  }

  online(req: ClusterOpParsed<'node.online'>): Promise<ClusterOpResults['node.online']> {
    return this.recorded(req.actor, 'node.online', req.node, async () => {
      const { cluster, revision } = await this.store.require();
      if (!cluster.nodes.some((n) => n.id === req.node)) throw new TandemError(ErrorCode.UnknownNode, `node ${req.node} is not in cluster ${cluster.id}`, 'node');
      await this.heartbeatAddress(req.node, cluster.heartbeatInterface);
      return this.store.put({ ...cluster, nodes: cluster.nodes.map((n) => (n.id === req.node ? { ...n, adminState: 'online' as const } : n)) }, revision);
    });
  }

  remove(req: ClusterOpParsed<'node.remove'>): Promise<ClusterOpResults['node.remove']> {
    return this.recorded(req.actor, 'node.remove', req.node, async () => {
      const { cluster, revision } = await this.store.require();
      const m = cluster.nodes.find((n) => n.id === req.node);
      if (!m) throw new TandemError(ErrorCode.UnknownNode, `node ${req.node} is not in cluster ${cluster.id}`, 'node');
      if (m.adminState === 'online') throw new TandemError(ErrorCode.InvalidArgument, `node ${req.node} is online: take it offline first (tandem node offline ${req.node})`, 'node');
      return this.store.put({ ...cluster, nodes: cluster.nodes.filter((n) => n.id !== req.node) }, revision);
    });
  }

  maintenance(req: ClusterOpParsed<'maintenance.set'>): Promise<ClusterOpResults['maintenance.set']> {
    return this.recorded(req.actor, req.on ? 'maintenance.on' : 'maintenance.off', 'cluster', async () => {
      const { cluster, revision } = await this.store.require();
      if (cluster.maintenance === req.on) return cluster;
      return this.store.put({ ...cluster, maintenance: req.on }, revision);
    });
  }

  /**
   * Every API token issued until now is refused from now on, by every node's gateway (they follow
   * the cluster record). Tokens carry their issue time in whole seconds: those of this very second
   * are revoked too, and gateways issue new ones only from the next second on.
   */
  revokeTokens(req: ClusterOpParsed<'auth.revoke-tokens'>): Promise<ClusterOpResults['auth.revoke-tokens']> {
    return this.recorded(req.actor, 'auth.revoke-tokens', 'cluster', async () => {
      const { cluster, revision } = await this.store.require();
      const revokedBefore = new Date().toISOString();
      await this.store.put({ ...cluster, tokensRevokedBefore: revokedBefore }, revision);
      return { revokedBefore };
    });
  }
}
