import type { HaPool } from '@tandem/contracts';

/**
 * Which pools to take over, and where — or why not. Pure: the resource-manager feeds it what it
 * observed (node liveness from the heartbeat channels, quorum, local health, the pools' records,
 * failure marks, hold-downs) and carries out the plan.
 *
 * The rules, in order:
 *  - nothing moves automatically in maintenance mode, or without quorum (a side that lost the
 *    witness and its peer fences itself instead);
 *  - a pool moves only off a node that is `down` on every channel (a `suspect` node is alive:
 *    raise the alarm, move nothing), or off a node whose client link is down / whose pool is
 *    faulted (a local fault, reported by that node itself), or that says it has not imported a
 *    pool recorded as serving there (lost: it rebooted while nothing could take the pool over);
 *  - the target is an online, up node with its client link up, where the pool has not failed
 *    before (until the operator marks it usable again), least loaded first;
 *  - a pool that moved automatically less than `holdDownMs` ago stays where it is when only its
 *    owner's client link is down (no ping-pong on a flapping link); a pool that cannot serve
 *    where it is (owner down, pool faulted there) is never held — it cannot come back to a node
 *    it failed on by itself anyway;
 *  - a pool with no possible target becomes inactive with the reason.
 */
export type Liveness = 'up' | 'suspect' | 'down' | 'unknown';

export interface NodeView {
  id: string;
  online: boolean;
  liveness: Liveness;
  clientLinkUp: boolean | null;
  /** Pools this node reports as faulted or unavailable (its own I/O view). */
  faultedPools: string[];
  /** Pools recorded as serving here that this node says it has not imported (LostPoolTracker). */
  lostPools?: string[];
}

export interface FailoverInput {
  now: number;
  maintenance: boolean;
  quorum: boolean;
  nodes: NodeView[];
  pools: HaPool[];
  /** pool → nodes it failed on (cleared by `tandem pool mark-usable`). */
  failedOn: Record<string, string[]>;
  /** pool → monotonic time of its last automatic move. */
  lastAutoMove: Record<string, number>;
  holdDownMs: number;
}

export type FailoverReason = 'node-down' | 'client-link-down' | 'pool-faulted' | 'pool-lost';

export type FailoverDecision =
  | { pool: string; action: 'failover'; from: string; to: string; reason: FailoverReason; force: boolean }
  | { pool: string; action: 'inactive'; from: string; reason: FailoverReason; why: string }
  | { pool: string; action: 'hold'; from: string; reason: FailoverReason; why: string };

export interface FailoverPlan {
  decisions: FailoverDecision[];
  /** Set when nothing may move at all, with the reason (shown in status and as an event). */
  declined: string | null;
  /** Alarms that need an operator but move nothing (e.g. a node suspect on one channel). */
  alarms: string[];
}

function reasonFor(pool: HaPool, owner: NodeView | undefined): FailoverReason | null {
  if (!owner) return 'node-down';
  if (owner.liveness === 'down') return 'node-down';
  if (owner.liveness === 'up' && owner.clientLinkUp === false) return 'client-link-down';
  if (owner.liveness === 'up' && owner.faultedPools.includes(pool.name)) return 'pool-faulted';
  if (owner.liveness === 'up' && (owner.lostPools ?? []).includes(pool.name)) return 'pool-lost';
  return null;
}

export function planFailover(input: FailoverInput): FailoverPlan {
  const alarms = input.nodes.filter((n) => n.online && n.liveness === 'suspect').map((n) => `node ${n.id} is suspect: some heartbeat channel is silent, nothing moves`);
  const candidates = input.pools.filter((p) => p.state === 'serving' && p.node);
  const affected = candidates
    .map((p) => ({
      pool: p,
      reason: reasonFor(
        p,
        input.nodes.find((n) => n.id === p.node),
      ),
    }))
    .filter((x): x is { pool: HaPool; reason: FailoverReason } => x.reason !== null);
  if (affected.length === 0) return { decisions: [], declined: null, alarms };
  if (input.maintenance) return { decisions: [], declined: 'maintenance mode is on: nothing moves automatically', alarms };
  if (!input.quorum) return { decisions: [], declined: 'no quorum (neither the peer nor the witness is reachable): this side fences itself, the other decides', alarms };

  const load = new Map(input.nodes.map((n) => [n.id, input.pools.filter((p) => p.node === n.id && p.state === 'serving').length]));
  const decisions: FailoverDecision[] = [];
  for (const { pool, reason } of affected.sort((a, b) => a.pool.name.localeCompare(b.pool.name))) {
    const from = pool.node!;
    const last = input.lastAutoMove[pool.name];
    if (last !== undefined && input.now - last < input.holdDownMs && reason === 'client-link-down') {
      decisions.push({ pool: pool.name, action: 'hold', from, reason, why: `moved automatically ${Math.round((input.now - last) / 1000)} s ago (hold-down ${Math.round(input.holdDownMs / 1000)} s)` });
      continue;
    }
    const failed = new Set([...(input.failedOn[pool.name] ?? []), from]);
    const targets = input.nodes
      .filter((n) => n.id !== from && n.online && n.liveness === 'up' && n.clientLinkUp !== false && !failed.has(n.id))
      .sort((a, b) => (load.get(a.id) ?? 0) - (load.get(b.id) ?? 0) || a.id.localeCompare(b.id));
    if (targets.length === 0) {
      decisions.push({ pool: pool.name, action: 'inactive', from, reason, why: `no healthy node left to run it (failed on: ${[...failed].join(', ')})` });
      continue;
    }
    const to = targets[0].id;
    load.set(to, (load.get(to) ?? 0) + 1);
    // a dead owner cannot export: the import is forced (after the fence wait)
    decisions.push({ pool: pool.name, action: 'failover', from, to, reason, force: reason === 'node-down' });
  }
  return { decisions, declined: null, alarms };
}
