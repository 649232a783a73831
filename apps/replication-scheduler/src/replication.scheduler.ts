import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'nats';
import {
  CLUSTER_RECORD,
  CLUSTER_RECORD_ID,
  Events,
  POOL_RECORD,
  REPLICATION_RECORD,
  effectiveSchedule,
  eventEnvelopeSchema,
  eventWildcard,
  type ClusterRecord,
  type HaPool,
  type ReplicaState,
  type ReplicationSchedule,
  type ReplicationState,
} from '@tandem/contracts';
import { replicationWindows, retryDelayMs } from '@tandem/domain';
import { HostClient, KvRecordMirror, KvRecordStore, OrderedEvents } from '@tandem/messaging';
import { ReplicationSync, replicationEndpoint } from '@tandem/replication';
import { LeadershipService, SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { Metrics, inSpan, onScrape } from '@tandem/telemetry';
import { replicaSamples } from './replication-metrics';

const iso = (ms: number) => new Date(ms).toISOString();
const due = (at: string | null, now: number) => at === null || Date.parse(at) <= now;

function emptyReplica(nextPullAt: string | null): ReplicaState {
  return { state: 'waiting', reason: null, newestCommon: null, lagSeconds: null, lagBytes: null, lastTransfer: null, progress: null, failures: 0, nextPullAt };
}

/**
 * The schedules of every replicated pool, run by the one active replication-scheduler of the
 * cluster (its lease; a standby takes over and reads the timers where they were left, in KV):
 * the active node's snapshot on its interval with retention, each passive's pull on its interval,
 * the sync lock after an automatic failover (nothing replicates; the failed node's copy imported
 * for retrieval only), and, once resumed, the diverged copy kept aside before it syncs again.
 * The work itself is ReplicationSync's (libs/replication), done by the nodes' host-executors.
 */
@Injectable()
export class ReplicationScheduler implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('replication');
  private readonly pools: KvRecordMirror<HaPool>;
  private readonly clusters: KvRecordMirror<ClusterRecord>;
  private readonly states: KvRecordStore<ReplicationState>;
  private readonly poolRecords: KvRecordStore<HaPool>;
  private readonly sync: ReplicationSync;
  /** Jobs running now (`snap:<pool>`, `pull:<pool>:<node>`): one of each at a time. */
  private readonly running = new Set<string>();
  private timer?: NodeJS.Timeout;
  private sub?: Subscription;
  private busy = false;
  /** Progress of running transfers, from the receivers' events: `<pool>:<node>` → progress. */
  private readonly progress = new Map<string, ReplicaState['progress']>();

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly leadership: LeadershipService,
    host: HostClient,
    private readonly events: OrderedEvents,
  ) {
    this.pools = new KvRecordMirror(ctx.nc, POOL_RECORD, { reopenEveryMs: 30_000 });
    this.clusters = new KvRecordMirror(ctx.nc, CLUSTER_RECORD, { reopenEveryMs: 30_000 });
    this.states = new KvRecordStore(ctx.nc, REPLICATION_RECORD);
    this.poolRecords = new KvRecordStore(ctx.nc, POOL_RECORD);
    this.sync = new ReplicationSync(host);
  }

  onModuleInit(): void {
    this.pools.start();
    this.clusters.start();
    this.sub = this.ctx.nc.subscribe(eventWildcard(Events.replicationProgress.entity, Events.replicationProgress.verb), {
      callback: (err, msg) => {
        if (err) return;
        const env = eventEnvelopeSchema.safeParse(safeJson(msg.data));
        if (!env.success || env.data.schema !== Events.replicationProgress.schema) return;
        const p = Events.replicationProgress.data.safeParse(env.data.data);
        if (p.success) this.progress.set(`${env.data.entity.id}:${p.data.to}`, { bytes: p.data.bytes, total: p.data.total, dataset: p.data.dataset });
      },
    });
    this.timer = setInterval(() => void this.tick(), 1_000);
    onScrape(() => this.exportMetrics());
  }

  /** The replication gauges, from the records, on the active scheduler only (the others would repeat them). */
  private async exportMetrics(): Promise<void> {
    const gauges = [Metrics.replicationLag(), Metrics.replicationLagBytes(), Metrics.replicationRate()];
    if (!this.leadership.isLeader) return gauges.forEach((g) => g.reset());
    const records = await this.states.list();
    gauges.forEach((g) => g.reset());
    for (const r of replicaSamples(records.map((x) => x.value))) {
      if (r.lagSeconds !== null) Metrics.replicationLag().set(r.labels, r.lagSeconds);
      if (r.lagBytes !== null) Metrics.replicationLagBytes().set(r.labels, r.lagBytes);
      if (r.bytesPerSecond !== null) Metrics.replicationRate().set(r.labels, r.bytesPerSecond);
    }
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.sub?.unsubscribe();
    this.pools.stop();
    this.clusters.stop();
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.leadership.isLeader) return;
    this.busy = true;
    try {
      const cluster = this.clusters.get(CLUSTER_RECORD_ID);
      if (!cluster) return;
      for (const pool of this.pools.values()) {
        if (pool.mode !== 'replicated') continue;
        await this.schedule(cluster, pool).catch((err) => this.logger.warn(`pool ${pool.name}: ${(err as Error).message}`));
      }
    } finally {
      this.busy = false;
    }
  }

  /**
   * What is due for one pool now; each job runs in the background, one of a kind at a time.
   * Decided on the pool record as it is now in KV, not on the mirror (a watch can stay silent
   * for a while after a stream leader change: acting on a record that old would treat the new
   * active as a passive).
   */
  private async schedule(cluster: ClusterRecord, mirrored: HaPool): Promise<void> {
    if (mirrored.state !== 'serving' || !mirrored.node) return; // a move carries out its own final sync
    const pool = (await this.poolRecords.get(mirrored.name))?.value;
    if (!pool || pool.mode !== 'replicated' || pool.state !== 'serving' || !pool.node) return;
    const now = Date.now();
    const schedule = effectiveSchedule(cluster.replication, pool.replication);
    const passives = cluster.nodes.filter((n) => n.id !== pool.node && n.adminState === 'online').map((n) => n.id);
    const state = await this.state(pool, passives, now);
    if (pool.syncLock) {
      // nothing replicates in either direction; the failed node's copy is for retrieval only
      if (!state.keepAsideOn.includes(pool.syncLock.from) || Object.values(state.replicas).some((r) => r.state !== 'locked')) {
        await this.update(pool.name, (s) => ({
          ...s,
          keepAsideOn: [...new Set([...s.keepAsideOn, pool.syncLock!.from])],
          replicas: Object.fromEntries(Object.entries(s.replicas).map(([n, r]) => [n, { ...r, state: 'locked' as const, reason: null, progress: null }])),
        }));
      }
      this.background(`retrieve:${pool.name}`, () => this.importForRetrieval(pool.name, pool.syncLock!.from, pool.epoch), 10_000);
    }
    if (due(state.nextSnapshotAt, now)) this.background(`snap:${pool.name}`, () => this.takeSnapshot(pool, schedule, state));
    if (pool.syncLock) return;
    for (const node of passives) {
      const r = state.replicas[node];
      if (!r || due(r.nextPullAt, now)) this.background(`pull:${pool.name}:${node}`, () => this.pull(cluster, pool, node, schedule));
    }
  }

  /** Run `job` unless one of its kind runs; optionally not more often than `everyMs`. */
  private readonly lastRun = new Map<string, number>();
  private background(key: string, job: () => Promise<void>, everyMs = 0): void {
    if (this.running.has(key) || Date.now() - (this.lastRun.get(key) ?? 0) < everyMs) return;
    this.running.add(key);
    this.lastRun.set(key, Date.now());
    void job()
      .catch((err) => this.logger.warn(`${key}: ${(err as Error).message}`))
      .finally(() => this.running.delete(key));
  }

  /** The pool's state record (made on first sight: the first snapshot and pulls are due at once, the bootstrap). */
  private async state(pool: HaPool, passives: string[], now: number): Promise<ReplicationState> {
    const found = await this.states.get(pool.name);
    if (found && passives.every((p) => found.value.replicas[p]) && found.value.source === pool.node) return found.value;
    return this.update(pool.name, (s) => ({
      ...s,
      source: pool.node,
      // the replicas are the online nodes other than the active (after a move, the old active is one)
      replicas: Object.fromEntries(passives.map((p) => [p, s.replicas[p] ?? emptyReplica(iso(now))])),
    }));
  }

  /** Read-modify-write of the pool's state record with compare-and-set (this scheduler is its only writer; a conflict is retried). */
  private async update(pool: string, change: (s: ReplicationState) => ReplicationState): Promise<ReplicationState> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.states.get(pool);
      const base: ReplicationState = cur?.value ?? { pool, source: null, newestSnapshot: null, nextSnapshotAt: null, replicas: {}, keepAsideOn: [], updatedAt: iso(Date.now()) };
      const next = change(base);
      const cleaned: ReplicationState = { ...next, updatedAt: iso(Date.now()) };
      const r = await this.states.put(pool, cleaned, cur?.revision ?? 0);
      if (r.ok) return cleaned;
      if (attempt >= 5) throw new Error(`the replication record of ${pool} keeps changing under this scheduler`);
    }
  }

  private async takeSnapshot(pool: HaPool, schedule: ReplicationSchedule, state: ReplicationState): Promise<void> {
    const node = pool.node!;
    await inSpan('replication snapshot', { 'tandem.pool': pool.name, 'tandem.node': node }, async () => {
      // replicas that have not pulled for longer than the passive-down limit no longer pin the active's space
      const { passiveDownLimitS } = replicationWindows(schedule);
      // a replica is away when its pulls have failed for longer than that (at least two pull intervals)
      const awayAfterMs = Math.max(passiveDownLimitS, 2 * schedule.pullIntervalS) * 1000;
      const stale = Object.entries(state.replicas)
        .filter(([, r]) => r.failures > 0 && r.lastSuccessAt && Date.now() - Date.parse(r.lastSuccessAt) > awayAfterMs)
        .map(([n]) => n);
      const r = await this.sync.snapshot(node, pool.name, schedule.retention, stale);
      const snaps = await this.sync.snapshots(node, pool.name);
      const newest = (snaps.get(pool.name) ?? []).find((s) => s.name === r.snapshot) ?? null;
      // the timer keeps the interval it was started with: a changed interval applies from this firing on
      await this.update(pool.name, (s) => ({
        ...s,
        newestSnapshot: newest ? { name: newest.name, guid: newest.guid, createdAt: newest.createdAt } : s.newestSnapshot,
        nextSnapshotAt: iso(Date.now() + schedule.snapshotIntervalS * 1000),
      }));
      this.logger.log(`pool ${pool.name}: snapshot ${r.snapshot} on ${node}${r.expired.length ? `, expired ${r.expired.join(', ')}` : ''}`);
      this.events.publish(Events.replicationSnapshotTaken, pool.name, { node, snapshot: r.snapshot, expired: r.expired, keptForReplicas: r.keptForReplicas });
    });
  }

  private async pull(cluster: ClusterRecord, pool: HaPool, node: string, schedule: ReplicationSchedule): Promise<void> {
    const from = pool.node!;
    const endpoint = replicationEndpoint(cluster, from);
    const key = `${pool.name}:${node}`;
    await inSpan('replication pull', { 'tandem.pool': pool.name, 'tandem.from': from, 'tandem.to': node }, async () => {
      const before = (await this.states.get(pool.name))?.value;
      const keepAside = before?.keepAsideOn.includes(node) ?? false;
      try {
        if (!endpoint) throw new Error(`node ${from} has no replication address (no heartbeat address, none set with tandem replication settings --ssh-address)`);
        // a passive copy is imported, never mounted, read-only (also a returning failed node's retrieval copy, once resumed)
        await this.sync.importAs(node, pool.name, 'replica', pool.epoch);
        await this.update(pool.name, (s) => ({ ...s, replicas: { ...s.replicas, [node]: { ...(s.replicas[node] ?? emptyReplica(null)), state: 'syncing' } } }));
        // a full resync is announced as such, with why (first sync, or nothing in common any more)
        const onFull = async (why: string) => {
          const reason = before?.replicas[node]?.lastTransfer ? 'no snapshot in common with the active any more' : `first synchronisation of this replica (${why})`;
          this.events.publish(Events.replicationBootstrapStarted, pool.name, { from, to: node, reason });
          await this.update(pool.name, (s) => ({ ...s, replicas: { ...s.replicas, [node]: { ...(s.replicas[node] ?? emptyReplica(null)), state: 'bootstrapping' } } }));
        };
        const progressTimer = setInterval(() => void this.writeProgress(pool.name, node), 2_000);
        let r;
        try {
          r = await this.sync.pull({ pool: pool.name, from, to: node, address: endpoint.address, port: endpoint.port, stallTimeoutS: schedule.stallTimeoutS, keepAside, onFull });
        } finally {
          clearInterval(progressTimer);
          this.progress.delete(key);
        }
        const at = iso(Date.now());
        await this.update(pool.name, (s) => ({
          ...s,
          keepAsideOn: s.keepAsideOn.filter((n) => n !== node),
          replicas: {
            ...s.replicas,
            [node]: {
              state: r.kind === 'wait' ? 'waiting' : 'in-sync',
              reason: r.why,
              newestCommon: r.newestCommon ? { name: r.newestCommon.name, guid: r.newestCommon.guid, createdAt: r.newestCommon.createdAt } : null,
              lagSeconds: r.lagSeconds,
              lagBytes: r.lagSeconds === 0 ? 0 : null,
              lastTransfer: r.kind === 'full' || r.kind === 'incremental' ? { kind: r.kind, bytes: r.bytes, ms: r.ms, at, to: r.snapshot ?? '' } : (s.replicas[node]?.lastTransfer ?? null),
              progress: null,
              failures: 0,
              nextPullAt: iso(Date.now() + schedule.pullIntervalS * 1000),
              lastSuccessAt: at,
            },
          },
        }));
        if (r.kind === 'full' || r.kind === 'incremental') {
          this.logger.log(`pool ${pool.name}: ${node} pulled ${r.snapshot} from ${from} (${r.kind}, ${r.bytes} bytes in ${r.ms} ms)`);
          this.events.publish(Events.replicationTransferred, pool.name, { from, to: node, snapshot: r.snapshot ?? '', kind: r.kind, bytes: r.bytes, ms: r.ms, expired: r.expired });
        }
      } catch (err) {
        const reason = `pulling ${pool.name} from ${from} to ${node} failed: ${(err as Error).message}`;
        const s = await this.update(pool.name, (cur) => {
          const failures = (cur.replicas[node]?.failures ?? 0) + 1;
          return {
            ...cur,
            replicas: {
              ...cur.replicas,
              [node]: { ...(cur.replicas[node] ?? emptyReplica(null)), state: 'error', reason, progress: null, failures, nextPullAt: iso(Date.now() + retryDelayMs(failures, schedule.pullIntervalS)) },
            },
          };
        });
        this.logger.warn(`${reason} (attempt ${s.replicas[node]?.failures}; next at ${s.replicas[node]?.nextPullAt})`);
        this.events.publish(Events.replicationError, pool.name, { from, to: node, reason, failures: s.replicas[node]?.failures ?? 1 });
      }
    });
  }

  private async writeProgress(pool: string, node: string): Promise<void> {
    const p = this.progress.get(`${pool}:${node}`);
    if (!p) return;
    await this.update(pool, (s) => ({ ...s, replicas: { ...s.replicas, [node]: { ...(s.replicas[node] ?? emptyReplica(null)), progress: p } } })).catch(() => undefined);
  }

  /** The failed node's own copy, once it is back: imported for data retrieval, read-only, never shared (a node still away is tried again later). */
  private async importForRetrieval(pool: string, node: string, epoch: number): Promise<void> {
    await this.sync.importAs(node, pool, 'retrieval', epoch).catch((err) => this.logger.debug(`pool ${pool}: its copy on ${node} is not imported for retrieval yet: ${(err as Error).message}`));
  }
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
