import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'nats';
import { Events, OWNERSHIP_LEASE_RECORD, POOL_RECORD, eventEnvelopeSchema, eventWildcard, type ClusterRecord, type HaPool, type LocalHealth, type OwnershipLease } from '@tandem/contracts';
import type { ClusterSnapshot } from '@tandem/domain';
import { HeartbeatClient, KvRecordMirror, KvRecordStore } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { withTimeout } from '@tandem/util';
import { ClusterStore } from '../cluster.store';
import { PoolStore } from '../pool.store';

const now = () => performance.now();

/**
 * Gathers what the failover decision needs into one immutable ClusterSnapshot: the cluster
 * record, this node's heartbeat view of its peers, every node's local health (its events, and
 * asked directly every 2 s in case one was missed), how long each peer's ownership lease on the
 * witness has stood still, and the HA pool records (one long-lived watch). It decides nothing.
 *
 * A lease's stillness counts from the first moment this node saw its newest revision, by a watch
 * of the bucket (a renewal is seen as soon as the witness stores it) and by a read every round (in
 * case the watch lags or is being reopened). Either sees a renewal only after the witness stored
 * it, so the stillness is never longer than it really is: the takeover never comes before the
 * owner's fence.
 *
 * Nothing here waits on a slow read when it can help it: the cluster record is re-read in the
 * background, the pool records are followed, each lease read is bounded to 500 ms.
 */
@Injectable()
export class ClusterViewObserver implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('cluster-view');
  private readonly pools: KvRecordMirror<HaPool>;
  private readonly leaseRecords: KvRecordStore<OwnershipLease>;
  private readonly leaseWatch: KvRecordMirror<OwnershipLease>;
  /** Each node's local health, and when it last arrived (this node's monotonic clock). */
  private readonly health = new Map<string, { local: LocalHealth; at: number }>();
  /** What this node saw of each peer's ownership lease: the revision, and since when it has not changed. */
  private readonly leases = new Map<string, { revision: number; since: number }>();
  private cluster: { record: ClusterRecord | null; at: number } | null = null;
  private refreshing = false;
  private lastHealthSync = 0;
  private sub?: Subscription;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly clusterStore: ClusterStore,
    private readonly poolStore: PoolStore,
    private readonly heartbeat: HeartbeatClient,
  ) {
    this.pools = new KvRecordMirror(ctx.nc, POOL_RECORD, { reopenEveryMs: 30_000, onError: (err) => this.logger.debug(`pool records watch: ${err.message}`) });
    this.leaseRecords = new KvRecordStore(ctx.nc, OWNERSHIP_LEASE_RECORD, 500);
    this.leaseWatch = new KvRecordMirror(ctx.nc, OWNERSHIP_LEASE_RECORD, { reopenEveryMs: 30_000, onError: (err) => this.logger.debug(`ownership leases watch: ${err.message}`) });
    this.leaseWatch.onChange((node, _lease, revision) => this.noteLease(node, revision));
  }

  onModuleInit(): void {
    // the nodes' local health (client link, pool health) as their heartbeat services publish it
    this.sub = this.ctx.nc.subscribe(eventWildcard(Events.nodeHealthChanged.entity, Events.nodeHealthChanged.verb), {
      callback: (err, msg) => {
        if (err) return;
        const env = eventEnvelopeSchema.safeParse(safeJson(msg.data));
        if (!env.success || env.data.schema !== Events.nodeHealthChanged.schema) return;
        const data = Events.nodeHealthChanged.data.safeParse(env.data.data);
        if (data.success) this.noteHealth(env.data.entity.id, data.data);
        else this.logger.warn(`a health event of ${env.data.entity.id} does not match its contract: ignored`);
      },
    });
    this.pools.start();
    this.leaseWatch.start();
  }

  onApplicationShutdown(): void {
    this.pools.stop();
    this.leaseWatch.stop();
    this.sub?.unsubscribe();
  }

  /** One observation. */
  async observe(): Promise<ClusterSnapshot> {
    const me = this.ctx.config.nodeId;
    const record = await this.clusterRecord();
    const self = record?.nodes.find((n) => n.id === me);
    const snapshot = (heartbeat: ClusterSnapshot['heartbeat'], witness: boolean): ClusterSnapshot => ({
      at: now(),
      wallAt: Date.now(),
      me,
      cluster: record,
      heartbeat,
      health: new Map(this.health),
      leases: new Map(this.leases),
      witness,
      pools: this.pools.values(),
    });
    if (!record || !self || self.adminState !== 'online') {
      // not deciding: when it decides again, every lease must be seen standing still anew
      this.leases.clear();
      return snapshot(null, false);
    }
    const view = await this.heartbeat.view(me, 500).catch(() => null);
    if (!view) return snapshot(null, false); // without our own view of the peers we decide nothing
    if (view.local) this.noteHealth(me, view.local);
    this.syncPeerHealth(record.nodes.filter((m) => m.id !== me && view.peers.find((p) => p.peer === m.id)?.state !== 'down').map((m) => m.id));
    // observe every peer's lease all the time (a small read on the witness): when a peer goes
    // silent, how long its lease has stood still is already known
    const peers = record.nodes.filter((m) => m.id !== me);
    const answered = await Promise.all(peers.map((m) => this.observeLease(m.id)));
    const witness = peers.length === 0 ? await this.observeLease(me) : answered.every(Boolean);
    return snapshot({ timeoutMs: view.timings.timeoutMs, peers: view.peers }, witness);
  }

  /** The same snapshot with the records of the pools on `nodes` read fresh (the watch may lag behind a stream leader change). */
  async withFreshPools(s: ClusterSnapshot, nodes: readonly string[]): Promise<ClusterSnapshot> {
    await Promise.all(
      s.pools
        .filter((p) => p.node && nodes.includes(p.node))
        .map(async (p) => {
          const fresh = await withTimeout(this.poolStore.get(p.name), 1_000, 'no answer').catch(() => null);
          if (fresh) this.pools.set(p.name, fresh.pool);
        }),
    );
    return { ...s, pools: this.pools.values() };
  }

  /**
   * A revision of `node`'s lease seen now, by the watch or a read. A newer one (or the lease gone,
   * 0) starts the stillness again; the same one, or an older one that a read begun before the
   * watch's news brings back, does not.
   */
  private noteLease(node: string, revision: number): void {
    const seen = this.leases.get(node);
    if (seen && (revision === seen.revision || (revision !== 0 && revision < seen.revision))) return;
    this.leases.set(node, { revision, since: now() });
  }

  private noteHealth(node: string, local: LocalHealth): void {
    this.health.set(node, { local, at: now() });
  }

  /** The cluster record, re-read in the background every 2 s: a read stalled by a stream election never holds up a decision. */
  private async clusterRecord(): Promise<ClusterRecord | null> {
    const stale = !this.cluster || now() - this.cluster.at > 2_000;
    if (stale && !this.refreshing) {
      this.refreshing = true;
      const read = this.clusterStore
        .get()
        .then((c) => {
          this.cluster = { record: c?.cluster ?? null, at: now() };
        })
        .catch(() => undefined)
        .finally(() => (this.refreshing = false));
      if (!this.cluster) await read;
    }
    return this.cluster?.record ?? null;
  }

  /**
   * The health events are the fast path; a missed one (published while a connection was
   * re-established) must not leave a node marked with a client link down for ever, so every
   * peer's local health is also asked of it directly every 2 s, in the background.
   */
  private syncPeerHealth(peers: string[]): void {
    if (now() - this.lastHealthSync < 2_000) return;
    this.lastHealthSync = now();
    for (const p of peers)
      void this.heartbeat
        .view(p, 500)
        .then((v) => {
          if (v.local) this.noteHealth(p, v.local);
        })
        .catch(() => undefined);
  }

  /** Read a peer's lease on the witness; track how long it has stayed unchanged. False: the witness did not answer. */
  private async observeLease(node: string): Promise<boolean> {
    try {
      this.noteLease(node, (await this.leaseRecords.get(node, 0))?.revision ?? 0);
      return true;
    } catch {
      // keep what was seen: a later read of the same revision proves no renewal happened meanwhile
      this.leaseRecords.reset();
      return false;
    }
  }
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
