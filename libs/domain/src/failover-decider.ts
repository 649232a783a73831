import { FAILOVER_TIMINGS, type ClusterRecord, type FailoverStatus, type FailoverTimings, type HaPool, type LocalHealth, type PeerReport } from '@tandem/contracts';
import { planFailover, type FailoverDecision, type Liveness, type NodeView } from './failover-planner';
import { LostPoolTracker } from './lost-pools';
import { checkFailoverTimings, mayTakeOver } from './ownership';

/**
 * The failover decision of one node, pure: what it saw (a ClusterSnapshot, made by the
 * resource-manager's observer) in, what to do out. Every node's resource-manager runs it; the
 * node that would receive a pool takes it over itself, so a failover never waits for the
 * resource-manager lease of a dead node to lapse (the pool record's compare-and-set makes sure
 * only one node acts).
 *
 * The rules, in order:
 *  1. A node that is not an online member of a cluster, or that cannot ask its own heartbeat
 *     service, decides nothing.
 *  2. Heartbeat timings that would let a peer import before the owner fenced itself decline
 *     every automatic move (checkFailoverTimings).
 *  3. All peers up and no node reporting trouble (client link down, a faulted pool, a pool lost
 *     after a reboot): nothing to do, no alarm.
 *  4. A peer silent on every heartbeat channel is down only once the silence lasted the heartbeat
 *     timeout + downForMs AND its ownership lease on the witness stood still for takeoverAfterMs
 *     (longer than its own fence takes); until then it is waiting — suspect, nothing moves. If the
 *     witness does not answer this node, nobody can tell whether the lost node fenced itself:
 *     automatic failover is declined.
 *  5. A peer only suspect (one channel silent) is alive: an alarm, nothing moves.
 *  6. Otherwise the planner (failover-planner.ts) says which pools go where; this node carries out
 *     the takeovers whose target it is, and — when it is the first healthy node by id, and the
 *     view held for `giveUpAfterMs` — records as inactive the pools a lost node leaves with no
 *     node to go to.
 *
 * Times are milliseconds of this node's monotonic clock, except `wallAt` (Date.now(), for the
 * hold-down, which counts from a time written in the pool record).
 */

/** What the observer saw at one instant. Never changed after it is made. */
export interface ClusterSnapshot {
  /** Monotonic time of the observation. */
  readonly at: number;
  /** Wall-clock time of the observation (ms since the epoch). */
  readonly wallAt: number;
  /** This node's id. */
  readonly me: string;
  readonly cluster: ClusterRecord | null;
  /** This node's heartbeat view (its heartbeat timeout and its peers), or null when its heartbeat service did not answer. */
  readonly heartbeat: { readonly timeoutMs: number; readonly peers: readonly PeerReport[] } | null;
  /** Each node's last reported local health, and when it arrived. */
  readonly health: ReadonlyMap<string, { readonly local: LocalHealth; readonly at: number }>;
  /** Each node's ownership lease as observed: its revision, and since when it has not changed. */
  readonly leases: ReadonlyMap<string, { readonly revision: number; readonly since: number }>;
  /** Did the witness answer every lease read of this round? */
  readonly witness: boolean;
  /** The HA pool records. */
  readonly pools: readonly HaPool[];
}

export interface FailoverSettings {
  /** A pool moved automatically less than this ago does not move again for a client link down. */
  holdDownMs: number;
  /** A pool recorded as serving on a node that says it has not imported it, for this long, is lost there. */
  lostAfterMs: number;
  /** A lost node's pool with nowhere to go is recorded inactive once the view held this long. */
  giveUpAfterMs: number;
  timings: FailoverTimings;
}

export const DEFAULT_FAILOVER_SETTINGS: Readonly<Omit<FailoverSettings, 'holdDownMs'>> = { lostAfterMs: 6_000, giveUpAfterMs: 2_000, timings: FAILOVER_TIMINGS };

export type Takeover = Extract<FailoverDecision, { action: 'failover' }>;
export type GiveUp = Extract<FailoverDecision, { action: 'inactive' }>;

/** The first stage: how the nodes stand. `plan` is needed only when something may have to move. */
export type Assessment =
  | {
      kind: 'nothing';
      status: FailoverStatus;
      declinedPools: string[];
      /**
       * When a peer found down but still within its fence time may be taken over (this node's
       * monotonic clock): both its silence and its lease's stillness have lasted long enough then.
       * The loop looks again at that instant rather than at its next round. Null: nobody waiting.
       */
      nextLookAt: number | null;
    }
  | { kind: 'trouble'; nodes: NodeView[]; waiting: string[]; troubledNodes: string[] };

export interface FailoverRound {
  /** What `cluster status` shows. */
  status: FailoverStatus;
  /** The pools concerned when automatic failover is declined (for the event). */
  declinedPools: string[];
  /** Pools this node takes over now, with what the takeover's trace needs to know of the owner. */
  takeovers: Array<{ decision: Takeover; ownerSilentMs: number; heartbeatTimeoutMs: number }>;
  /** Pools a lost node leaves with no node to run them: recorded inactive by this node now. */
  giveUps: Array<{ decision: GiveUp; nodes: NodeView[] }>;
}

export const NO_WITNESS = 'the witness does not answer this node (or the cluster has none): nobody can tell whether the lost node fenced itself, so nothing moves automatically';
const SUSPECT_ALARM = (id: string) => `node ${id} is suspect: some heartbeat channel is silent, nothing moves`;

/** Pool health that means the pool cannot serve there (DEGRADED still serves). */
const FAULTED_HEALTH = ['FAULTED', 'UNAVAIL', 'SUSPENDED', 'REMOVED'];
export function faultedPools(local: LocalHealth | undefined): string[] {
  return (local?.pools ?? []).filter((p) => FAULTED_HEALTH.includes(p.health)).map((p) => p.name);
}

/** How long a peer has been silent on every channel (the freshest channel decides). */
export function silenceMs(peer: PeerReport): number {
  return Math.min(peer.channels.udp ?? Infinity, peer.channels.nats ?? Infinity);
}

/**
 * When the down peer `v` may be taken over, on the snapshot's clock: the later of the instant its
 * silence reaches the heartbeat timeout + downForMs and the instant its lease will have stood still
 * for takeoverAfterMs (mayTakeOver's two conditions). Null when its lease was never seen: then only
 * a read of it can tell.
 */
export function takeoverDueAt(s: ClusterSnapshot, v: PeerReport, t: FailoverTimings): number | null {
  const lease = s.leases.get(v.peer);
  if (!lease || !s.heartbeat) return null;
  return Math.max(lease.since + t.takeoverAfterMs, s.at - silenceMs(v) + s.heartbeat.timeoutMs + t.downForMs);
}

/** Could any node still run a pool that failed on `failedOn`? (Asked again with a fresh record before giving a pool up.) */
export function hasHealthyTarget(nodes: readonly NodeView[], failedOn: Iterable<string>): boolean {
  const failed = new Set(failedOn);
  return nodes.some((n) => n.online && n.liveness === 'up' && n.clientLinkUp !== false && !failed.has(n.id));
}

/**
 * Holds what one node's decisions remember from round to round (pools seen lost, pools about to
 * be given up); otherwise a function of the snapshot.
 */
export class FailoverDecider {
  private readonly lost: LostPoolTracker;
  private readonly givingUpSince = new Map<string, number>();

  constructor(private readonly settings: FailoverSettings) {
    this.lost = new LostPoolTracker(settings.lostAfterMs);
  }

  /** Rules 1–5: how the nodes stand, from the snapshot. */
  assess(s: ClusterSnapshot): Assessment | null {
    const self = s.cluster?.nodes.find((n) => n.id === s.me);
    if (!s.cluster || !self || self.adminState !== 'online' || !s.heartbeat) return null;
    const nothing = (status: FailoverStatus, nextLookAt: number | null = null): Assessment => {
      // a pool about to be given up must be seen without a node for the whole wait again
      this.givingUpSince.clear();
      return { kind: 'nothing', status, declinedPools: [], nextLookAt };
    };
    const members = s.cluster.nodes;
    const timingProblems = checkFailoverTimings(this.settings.timings, s.heartbeat.timeoutMs);
    if (timingProblems.length) {
      return nothing({ declined: `unsafe failover timings (heartbeat timeout ${s.heartbeat.timeoutMs} ms): ${timingProblems.join('; ')}`, alarms: [], witness: s.witness });
    }
    const reports = new Map(
      members.map((m) => {
        const r = s.health.get(m.id);
        return [m.id, { pools: r?.local.pools?.map((p) => p.name) ?? null, at: r?.at ?? -Infinity }];
      }),
    );
    const lost = this.lost.update(s.at, s.pools, reports);
    const reportsTrouble = [...s.health].some(([n, { local }]) => members.some((m) => m.id === n) && (local.clientLink === 'down' || faultedPools(local).length > 0));
    const localTrouble = lost.size > 0 || reportsTrouble;
    const byId = new Map(s.heartbeat.peers.map((p) => [p.peer, p]));
    if (!localTrouble && s.heartbeat.peers.every((p) => p.state === 'up')) return nothing({ declined: null, alarms: [], witness: s.witness });

    const timeoutMs = s.heartbeat.timeoutMs;
    const nodes: NodeView[] = members.map((m) => {
      const h = s.health.get(m.id)?.local;
      const base = {
        id: m.id,
        online: m.adminState === 'online',
        clientLinkUp: h ? (h.clientLink === 'unknown' ? null : h.clientLink === 'up') : null,
        faultedPools: faultedPools(h),
        lostPools: lost.get(m.id) ?? [],
      };
      if (m.id === s.me) return { ...base, liveness: 'up' as Liveness };
      const v = byId.get(m.id);
      if (!v) return { ...base, liveness: 'unknown' as Liveness };
      if (v.state !== 'down') return { ...base, liveness: v.state };
      // down, and long enough for the owner to have fenced itself?
      const lease = s.leases.get(m.id);
      const gone = mayTakeOver({ silentMs: silenceMs(v), heartbeatTimeoutMs: timeoutMs, leaseStillForMs: lease ? s.at - lease.since : null }, this.settings.timings);
      return { ...base, liveness: (gone ? 'down' : 'suspect') as Liveness };
    });
    const waiting = members.filter((m) => byId.get(m.id)?.state === 'down' && nodes.find((n) => n.id === m.id)?.liveness !== 'down').map((m) => m.id);
    if (!localTrouble && !nodes.some((n) => n.liveness === 'down')) {
      // nothing to move (yet): a lost node is still within its fence time, or only suspect
      const alarms = nodes.filter((n) => n.online && n.liveness === 'suspect' && !waiting.includes(n.id)).map((n) => SUSPECT_ALARM(n.id));
      const due = waiting.map((id) => takeoverDueAt(s, byId.get(id)!, this.settings.timings)).filter((t): t is number => t !== null);
      return nothing({ declined: !s.witness && waiting.length > 0 ? NO_WITNESS : null, alarms, witness: s.witness }, due.length ? Math.min(...due) : null);
    }
    const troubledNodes = nodes.filter((n) => n.liveness === 'down' || n.clientLinkUp === false || n.faultedPools.length > 0 || (n.lostPools ?? []).length > 0).map((n) => n.id);
    return { kind: 'trouble', nodes, waiting, troubledNodes };
  }

  /** Rule 6: which pools move and which this node acts on, from a snapshot whose troubled pools were read fresh. */
  plan(s: ClusterSnapshot, a: Extract<Assessment, { kind: 'trouble' }>): FailoverRound {
    const pools = s.pools;
    const plan = planFailover({
      now: s.wallAt,
      maintenance: s.cluster?.maintenance ?? false,
      quorum: s.witness,
      nodes: a.nodes,
      pools: [...pools],
      failedOn: Object.fromEntries(pools.map((p) => [p.name, p.failedOn ?? []])),
      lastAutoMove: Object.fromEntries(pools.filter((p) => p.lastFailoverAt).map((p) => [p.name, Date.parse(p.lastFailoverAt!)])),
      holdDownMs: this.settings.holdDownMs,
    });
    const declined = !s.witness && plan.declined !== null ? NO_WITNESS : plan.declined;
    const affected = pools.filter((p) => p.state === 'serving' && p.node && a.waiting.includes(p.node)).map((p) => p.name);
    const held = plan.decisions
      .filter((d) => d.action === 'hold' || (d.action === 'inactive' && d.reason !== 'node-down'))
      .map((d) => `pool ${d.pool} stays on ${d.from} (${d.reason}): ${'why' in d ? d.why : ''}`);
    const round: FailoverRound = {
      status: { declined, alarms: [...plan.alarms, ...held], witness: s.witness },
      declinedPools: affected.length ? affected : plan.decisions.map((d) => d.pool),
      takeovers: [],
      giveUps: [],
    };

    const firstUp = a.nodes
      .filter((n) => n.online && n.liveness === 'up')
      .map((n) => n.id)
      .sort()[0];
    const peers = new Map((s.heartbeat?.peers ?? []).map((p) => [p.peer, p]));
    const givingUp = new Set<string>();
    for (const d of plan.decisions) {
      if (d.action === 'failover' && d.to === s.me) {
        const owner = peers.get(d.from);
        round.takeovers.push({ decision: d, ownerSilentMs: d.reason === 'node-down' && owner ? silenceMs(owner) : 0, heartbeatTimeoutMs: s.heartbeat?.timeoutMs ?? 0 });
      } else if (d.action === 'inactive' && d.reason === 'node-down') {
        givingUp.add(d.pool);
        const since = this.givingUpSince.get(d.pool) ?? s.at;
        this.givingUpSince.set(d.pool, since);
        if (firstUp === s.me && s.at - since >= this.settings.giveUpAfterMs) round.giveUps.push({ decision: d, nodes: a.nodes });
      }
    }
    for (const p of [...this.givingUpSince.keys()]) if (!givingUp.has(p)) this.givingUpSince.delete(p);
    return round;
  }
}
