import { DEFAULT_SSH_PORT, ErrorCode, TandemError, baseHoldTag, tandemSnapshotName, type ClusterRecord, type SnapshotInfo } from '@tandem/contracts';
import { newestCommon, lagSeconds, planDatasetPull, replicaExpiry, replicatedDatasets, retentionExpiry, type DatasetPull, type SnapshotRef } from '@tandem/domain';
import type { HostClient } from '@tandem/messaging';
import { runTreeTasks } from '@tandem/util';

/** Time, for the snapshot that must wait for the next second's name (a test passes its own). */
export interface SnapshotClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
const REAL_CLOCK: SnapshotClock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/** Where a passive pulls from. */
export interface PullPlanContext {
  pool: string;
  /** The active node (the sender). */
  from: string;
  /** The passive node (the receiver). */
  to: string;
  /** The active's replication SSH endpoint. */
  address: string;
  port: number;
  stallTimeoutS: number;
  /** Keep the passive's data aside before anything is received, whatever the snapshots say (a node that served while sync was locked). */
  keepAside: boolean;
  /** Told, before it starts, that the pool's root is resynchronised in full, and why (a bootstrap). */
  onFull?: (why: string) => void | Promise<void>;
}

export interface PullResult {
  kind: 'none' | 'full' | 'incremental' | 'wait';
  /** The active's newest snapshot the passive now holds (short name). */
  snapshot: string | null;
  bytes: number;
  ms: number;
  expired: string[];
  /** Where the passive's own data was kept aside, if it was. */
  keptAside: string | null;
  newestCommon: SnapshotRef | null;
  lagSeconds: number | null;
  why: string | null;
}

export interface SnapshotResult {
  snapshot: string;
  expired: string[];
  keptForReplicas: string[];
}

type Host = Pick<HostClient, 'call'>;

/** A receive that failed because the replica was written to since its newest snapshot: it diverged. */
// (zfs wraps its messages over several lines)
const DIVERGED = /has\s+been\s+modified|does\s+not\s+match\s+incremental\s+source|destination\s+\S+\s+exists/i;
const TRANSFER_TIMEOUT_MS = 6 * 3600_000;
/** Datasets of one pool received side by side in one pull (each its own SSH connection and zfs receive). */
const RECEIVES_AT_ONCE = 4;

/**
 * What a dataset's receive waits for: a new dataset (received in full) waits for its nearest
 * ancestor's receive (its parent must be there first); a dataset that is there already waits only
 * for an ancestor that is replaced in full. Incrementals of parent and child run side by side.
 */
function receivedBefore<M extends { dataset: string; plan: { action: string } }>(m: M, among: readonly M[]): M | null {
  let best: M | null = null;
  for (const a of among) {
    if (!m.dataset.startsWith(`${a.dataset}/`) || (best && a.dataset.length <= best.dataset.length)) continue;
    if (m.plan.action === 'full' || a.plan.action === 'full') best = a;
  }
  return best;
}

/**
 * The work of shared-nothing replication, carried out by the host-executors of the two nodes:
 * the active's scheduled snapshot with its retention, and a passive's pull (plan by GUID, keep the
 * replica's own data aside when it diverged, full or incremental receive over SSH, hold the new
 * base on both sides, expire on the passive what the active no longer has). Used by the
 * replication-scheduler on its timers and by the resource-manager for a planned move's final sync.
 */
export class ReplicationSync {
  constructor(private readonly host: Host) {}

  /** Every snapshot of the pool on `node`, by dataset. */
  async snapshots(node: string, pool: string): Promise<Map<string, SnapshotRef[]>> {
    const list = await this.host.call(node, 'snapshot.list', { dataset: pool, recursive: true }, 30_000);
    const out = new Map<string, SnapshotRef[]>();
    for (const s of list) out.set(s.dataset, [...(out.get(s.dataset) ?? []), ref(s)]);
    return out;
  }

  /** The pool's replicated datasets on `node` (filesystems but Tandem's kept-aside copies), parents first. */
  async datasets(node: string, pool: string): Promise<string[]> {
    const list = await this.host.call(node, 'dataset.list', { root: pool }, 30_000);
    return replicatedDatasets(
      pool,
      list.filter((d) => d.type === 'filesystem').map((d) => d.name),
    );
  }

  /**
   * The active's scheduled snapshot: recursive, Tandem-named; then the oldest beyond `retention`
   * are destroyed — except a replica's next base, held. Holds of replicas that have not pulled for
   * longer than the passive-down limit (`staleHolders`) are released first: their base expires with
   * the rest, and they will resync in full when they return.
   */
  async snapshot(node: string, pool: string, retention: number, staleHolders: readonly string[], at = new Date(), clock: SnapshotClock = REAL_CLOCK): Promise<SnapshotResult> {
    let name = tandemSnapshotName(at);
    // names have one-second resolution: a snapshot of this name taken earlier in the same second
    // (the schedule's, just before a move's final one) does not hold what was written since — a
    // new one is taken in the next second instead of counting the old one as this one
    for (let attempt = 1; !(await this.host.call(node, 'snapshot.create', { dataset: pool, name, recursive: true }, 60_000)).changed; attempt++) {
      if (attempt >= 3) throw new TandemError(ErrorCode.AlreadyExists, `pool ${pool} on ${node}: snapshot ${name} exists already, and no new one could be named after it`, 'pool');
      await clock.sleep(1_000 - (clock.now() % 1_000) + 10);
      name = tandemSnapshotName(new Date(clock.now()));
    }
    const all = await this.snapshots(node, pool);
    // the active needs no base of its own: a hold left from when it was a passive goes too
    staleHolders = [...new Set([...staleHolders, node])];
    const expired = new Set<string>();
    const kept = new Set<string>();
    for (const dataset of await this.datasets(node, pool)) {
      let snaps = all.get(dataset) ?? [];
      if (snaps.some((x) => x.userrefs > 0)) {
        for (const s of snaps.filter((x) => x.userrefs > 0)) for (const holder of staleHolders) await this.release(node, `${dataset}@${s.name}`, holder);
        snaps = (await this.snapshots(node, pool)).get(dataset) ?? [];
      }
      const { destroy, keptForReplicas } = retentionExpiry(snaps, retention);
      for (const s of destroy) {
        await this.host.call(node, 'snapshot.destroy', { snapshot: `${dataset}@${s.name}` }, 60_000);
        expired.add(s.name);
      }
      for (const s of keptForReplicas) kept.add(s.name);
    }
    return { snapshot: name, expired: [...expired].sort(), keptForReplicas: [...kept].sort() };
  }

  /**
   * Bring `node`'s copy of `pool` to `role` (imported if it is not: a passive copy after a
   * reboot). `epoch`: the pool record's epoch this is decided on — a node that serves the pool
   * under a newer one refuses (the decision was made on a record that is out of date).
   */
  async importAs(node: string, pool: string, role: 'replica' | 'retrieval' | 'serve', epoch?: number): Promise<void> {
    await this.host.call(node, 'pool.import', { pool, role, ...(epoch !== undefined ? { epoch } : {}) }, 120_000);
  }

  /** One pull of `ctx.pool` by `ctx.to` from `ctx.from`. */
  async pull(ctx: PullPlanContext): Promise<PullResult> {
    const t0 = performance.now();
    const [sourceDatasets, source, replicaDatasets, replica] = await Promise.all([
      this.datasets(ctx.from, ctx.pool),
      this.snapshots(ctx.from, ctx.pool),
      this.datasets(ctx.to, ctx.pool),
      this.snapshots(ctx.to, ctx.pool),
    ]);
    const plans = sourceDatasets.map((dataset) => ({ dataset, plan: planDatasetPull(source.get(dataset) ?? [], replicaDatasets.includes(dataset) ? (replica.get(dataset) ?? []) : null) }));
    const root = plans.find((p) => p.dataset === ctx.pool)?.plan;
    if (!root || root.action === 'wait') {
      return {
        kind: 'wait',
        snapshot: null,
        bytes: 0,
        ms: 0,
        expired: [],
        keptAside: null,
        newestCommon: null,
        lagSeconds: null,
        why: root?.action === 'wait' ? root.why : `pool ${ctx.pool} has no root dataset on ${ctx.from}`,
      };
    }
    // what is about to be sent is held on the active first: its retention (which runs on its own
    // timer) cannot destroy a snapshot in flight; the hold becomes the new base's after success
    await Promise.all(
      plans.flatMap(({ dataset, plan }) => [
        ...(plan.action === 'incremental' ? [this.hold(ctx.from, `${dataset}@${plan.base.name}`, ctx.to)] : []),
        ...(plan.action === 'full' || plan.action === 'incremental' ? [this.hold(ctx.from, `${dataset}@${plan.to.name}`, ctx.to)] : []),
      ]),
    );
    if (root.action === 'full') await ctx.onFull?.(root.why);
    // once per pull, however many datasets diverged: where the replica's data went
    let keptAside: Promise<string> | null = null;
    const keepAside = () =>
      (keptAside ??= this.host.call(ctx.to, 'replication.keep-aside', { pool: ctx.pool, tag: tandemSnapshotName(new Date()).replace('tandem-', 'kept-') }, TRANSFER_TIMEOUT_MS).then((r) => r.kept));
    if (ctx.keepAside || plans.some((p) => 'keepAside' in p.plan && p.plan.keepAside)) await keepAside();

    // up to RECEIVES_AT_ONCE datasets side by side, a new one after its parent: a pool of many
    // datasets is not pulled one connection at a time
    const moving = plans.flatMap(({ dataset, plan }) => (plan.action === 'full' || plan.action === 'incremental' ? [{ dataset, plan }] : []));
    const results = await runTreeTasks(moving, receivedBefore, RECEIVES_AT_ONCE, (m) => this.receive(ctx, m.dataset, m.plan));
    // the first receive that failed (one not run because its parent failed carries the same error)
    const failed = results.find((r) => !r.ok && !r.skipped);
    if (failed && !failed.ok) throw failed.error;
    let bytes = 0;
    for (const [i, r] of results.entries()) {
      if (!r.ok) continue;
      const { dataset, plan } = moving[i];
      if (r.value !== 'diverged') bytes += r.value;
      else if (plan.action === 'incremental') {
        // written to since its newest snapshot (a node that served while the other side was
        // away): the replica's data is kept aside (once, with no receive running), then the
        // dataset is rolled back to the base and received again
        await keepAside();
        const again = await this.receive(ctx, dataset, plan, `${dataset}@${plan.base.name}`);
        if (again === 'diverged') throw new TandemError(ErrorCode.StreamFailed, `${dataset} on ${ctx.to} still differs from ${ctx.from} after a rollback to ${plan.base.name}`, 'pool');
        bytes += again;
      }
    }
    const kind: PullResult['kind'] = moving.some((m) => m.plan.action === 'full') ? 'full' : moving.length > 0 ? 'incremental' : 'none';

    // the new base of this pair, held on both sides; the previous one released; then the passive's expiry
    const after = await this.snapshots(ctx.to, ctx.pool);
    const expired = new Set<string>();
    // each dataset's holds in order (the new base held before the old one is released), the
    // datasets and the two nodes side by side
    await Promise.all(
      plans.map(async ({ dataset }) => {
        const src = source.get(dataset) ?? [];
        const rep = after.get(dataset) ?? [];
        const base = newestCommon(src, rep);
        if (!base) return;
        await Promise.all(
          [ctx.from, ctx.to].map(async (node) => {
            const snaps = node === ctx.from ? src : rep;
            await this.hold(node, `${dataset}@${base.name}`, ctx.to);
            for (const s of snaps.filter((x) => x.userrefs > 0)) {
              if (s.guid !== base.guid) await this.release(node, `${dataset}@${s.name}`, ctx.to);
              // the active needs no base of its own: a hold left from when it was a passive would pin its snapshot for ever
              await this.release(node, `${dataset}@${s.name}`, ctx.from);
            }
          }),
        );
        for (const s of replicaExpiry(src, rep)) {
          await this.host.call(ctx.to, 'snapshot.destroy', { snapshot: `${dataset}@${s.name}` }, 60_000).catch(() => undefined);
          expired.add(s.name);
        }
      }),
    );
    const rootSource = source.get(ctx.pool) ?? [];
    const rootReplica = after.get(ctx.pool) ?? [];
    const common = newestCommon(rootSource, rootReplica);
    return {
      kind,
      snapshot: common?.name ?? null,
      bytes,
      ms: Math.round(performance.now() - t0),
      expired: [...expired].sort(),
      keptAside: keptAside ? await keptAside : null,
      newestCommon: common,
      lagSeconds: lagSeconds(rootSource, rootReplica),
      why: null,
    };
  }

  /**
   * One dataset's receive. `rollbackTo`: roll the replica back to that snapshot first. An
   * incremental onto a replica written to since its base answers `diverged` (its data is kept
   * aside and it is received again by the caller).
   */
  private async receive(ctx: PullPlanContext, dataset: string, plan: Extract<DatasetPull, { action: 'full' | 'incremental' }>, rollbackTo: string | null = null): Promise<number | 'diverged'> {
    const call = (rollbackTo: string | null) =>
      this.host.call(
        ctx.to,
        'replication.receive',
        {
          pool: ctx.pool,
          dataset,
          snapshot: `${dataset}@${plan.to.name}`,
          base: plan.action === 'incremental' ? `${dataset}@${plan.base.name}` : null,
          rollbackTo,
          from: ctx.from,
          address: ctx.address,
          port: ctx.port,
          stallTimeoutMs: ctx.stallTimeoutS * 1000,
          expectedBytes: plan.action === 'full' ? (plan.to.referencedBytes ?? null) : null,
        },
        TRANSFER_TIMEOUT_MS,
      );
    if (plan.action === 'full') return (await call(null)).bytes;
    rollbackTo ??= plan.rollbackTo ? `${dataset}@${plan.rollbackTo.name}` : null;
    if (rollbackTo) return (await call(rollbackTo)).bytes;
    try {
      return (await call(null)).bytes;
    } catch (err) {
      if (!(err instanceof TandemError) || !DIVERGED.test(`${err.message} ${err.detail ?? ''}`)) throw err;
      return 'diverged';
    }
  }

  private async hold(node: string, snapshot: string, passive: string): Promise<void> {
    await this.host.call(node, 'snapshot.hold', { snapshot, tag: baseHoldTag(passive) }, 30_000).catch((err: unknown) => {
      if (!(err instanceof TandemError && /already exists|tag already/i.test(`${err.message} ${err.detail ?? ''}`))) throw err;
    });
  }

  private async release(node: string, snapshot: string, passive: string): Promise<void> {
    await this.host.call(node, 'snapshot.release', { snapshot, tag: baseHoldTag(passive) }, 30_000).catch((err: unknown) => {
      if (err instanceof TandemError && (err.code === ErrorCode.SnapshotNotFound || /no such tag|not found|does not exist/i.test(`${err.message} ${err.detail ?? ''}`))) return;
      throw err;
    });
  }
}

function ref(s: SnapshotInfo): SnapshotRef {
  return { name: s.snapshot, guid: s.guid, createdAt: s.createdAt, userrefs: s.userrefs, referencedBytes: s.referencedBytes };
}

/** Where a node's replication SSH endpoint is reached: the address the operator named, else its heartbeat address. */
export function replicationEndpoint(cluster: ClusterRecord, node: string): { address: string; port: number } | null {
  const address = cluster.replication?.sshAddresses?.[node] ?? cluster.nodes.find((n) => n.id === node)?.heartbeatAddress ?? null;
  return address ? { address, port: cluster.replication?.sshPort ?? DEFAULT_SSH_PORT } : null;
}
