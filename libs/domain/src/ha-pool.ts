import { ErrorCode, TandemError, type ClusterRecord, type FloatingIp, type HaPool, type ShareSpec } from '@tandem/contracts';

/**
 * The HA pool state machine, pure. A pool is `serving` on one node, `in-transition` while one
 * operation runs on it (every other operation is refused "in transition"), or `inactive` with
 * the reason. The fencing epoch grows with every bring-up, so a host-executor can refuse a
 * request from a superseded owner.
 */
export function newPool(name: string, vips: FloatingIp[], shares: ShareSpec[], fc: boolean, now: Date): HaPool {
  return { name, state: 'inactive', node: null, operation: null, reason: 'not started yet', vips, shares, fc, epoch: 0, mountpoint: null, updatedAt: now.toISOString() };
}

export function assertNotInTransition(pool: HaPool): void {
  if (pool.state === 'in-transition') {
    throw new TandemError(ErrorCode.InTransition, `pool ${pool.name} is in transition (${pool.operation ?? 'an operation'} on ${pool.node ?? 'no node'}): try again when it is done`, 'pool');
  }
}

/** Start an operation: the pool is in transition until `settle`. */
export function begin(pool: HaPool, operation: string, now: Date): HaPool {
  assertNotInTransition(pool);
  return { ...pool, state: 'in-transition', operation, updatedAt: now.toISOString() };
}

export function serving(pool: HaPool, node: string, epoch: number, mountpoint: string | null, now: Date): HaPool {
  return { ...pool, state: 'serving', node, epoch, mountpoint, operation: null, reason: null, updatedAt: now.toISOString() };
}

export function inactive(pool: HaPool, reason: string, now: Date): HaPool {
  return { ...pool, state: 'inactive', node: null, operation: null, reason, updatedAt: now.toISOString() };
}

/** Rules for each operation, checked before anything runs. */
export function checkMove(pool: HaPool, to: string, knownNodes: readonly string[]): void {
  assertNotInTransition(pool);
  if (!knownNodes.includes(to)) throw new TandemError(ErrorCode.UnknownNode, `node ${to} is not in the cluster (nodes: ${knownNodes.join(', ')})`, 'to');
  if (pool.state !== 'serving' || !pool.node) throw new TandemError(ErrorCode.InvalidArgument, `pool ${pool.name} is ${pool.state}, not serving: use reattach to start it on a node`, 'pool');
  if (pool.node === to) throw new TandemError(ErrorCode.InvalidArgument, `pool ${pool.name} already serves on ${to}`, 'to');
}

export function checkReattach(pool: HaPool, node: string, knownNodes: readonly string[]): void {
  assertNotInTransition(pool);
  if (!knownNodes.includes(node)) throw new TandemError(ErrorCode.UnknownNode, `node ${node} is not in the cluster (nodes: ${knownNodes.join(', ')})`, 'node');
  if (pool.state !== 'inactive') throw new TandemError(ErrorCode.InvalidArgument, `pool ${pool.name} is ${pool.state} on ${pool.node}: only an inactive pool can be reattached (use move)`, 'pool');
}

/** Floating IPs of a new pool must not clash with another pool's. */
export function checkVipsFree(vips: FloatingIp[], others: HaPool[]): void {
  const seen = new Set<string>();
  for (const v of vips) {
    if (seen.has(v.address)) throw new TandemError(ErrorCode.InvalidArgument, `floating IP ${v.address} is given twice`, 'vips');
    seen.add(v.address);
    const owner = others.find((p) => p.vips.some((o) => o.address === v.address));
    if (owner) throw new TandemError(ErrorCode.AddressInUse, `floating IP ${v.address} already belongs to pool ${owner.name}`, 'vips');
  }
}

/**
 * Floating IPs stay off the cluster's own networks: never on the heartbeat interface, never one
 * of the members' heartbeat or replication addresses — a client address moving there would take
 * the cluster's own links down with it.
 */
export function checkVipsOffClusterNetworks(
  vips: readonly FloatingIp[],
  cluster: Pick<ClusterRecord, 'heartbeatInterface' | 'nodes' | 'replication'>,
  fields = { interface: 'vips', address: 'vips' },
): void {
  const own = new Map<string, string>();
  for (const n of cluster.nodes) if (n.heartbeatAddress) own.set(n.heartbeatAddress, `the heartbeat address of ${n.id}`);
  for (const [node, address] of Object.entries(cluster.replication?.sshAddresses ?? {})) own.set(address, `the replication address of ${node}`);
  for (const v of vips) {
    if (v.interface === cluster.heartbeatInterface)
      throw new TandemError(
        ErrorCode.InvalidArgument,
        `floating IP ${v.address} on ${v.interface}: that is the cluster's heartbeat interface; floating IPs go on a client interface`,
        fields.interface,
      );
    const what = own.get(v.address);
    if (what) throw new TandemError(ErrorCode.InvalidArgument, `floating IP ${v.address} is ${what}: a floating IP must be an address of its own`, fields.address);
  }
}

export function checkSharesUnique(shares: ShareSpec[]): void {
  const seen = new Set<string>();
  for (const s of shares) {
    const k = `${s.protocol}:${s.name}`;
    if (seen.has(k)) throw new TandemError(ErrorCode.InvalidArgument, `share ${s.name} (${s.protocol}) is given twice`, 'shares');
    seen.add(k);
  }
}

/** One step of bringing a pool up or down on a node, in the order it must run. */
export type Step =
  | { kind: 'share.stop'; node: string }
  | { kind: 'ip.remove'; node: string; vip: FloatingIp }
  | { kind: 'pool.export'; node: string; force: boolean; hardFenceAfterMs?: number; epoch?: number }
  | { kind: 'pool.import'; node: string; epoch: number; force: boolean }
  /** A replicated pool's copy stops being served but stays imported: a passive replica, or (after an automatic failover away from a live owner) kept for data retrieval. */
  | { kind: 'pool.demote'; node: string; role: 'replica' | 'retrieval'; epoch: number }
  | { kind: 'ip.add'; node: string; vip: FloatingIp; epoch: number }
  | { kind: 'share.start'; node: string; share: ShareSpec }
  /** The pool's block target (iSCSI on its floating IPs, and FC): started with the shares, after the IPs. */
  | { kind: 'target.start'; node: string }
  /** Stops the pool's block target, with the shares. */
  | { kind: 'target.stop'; node: string };

/** Whether the pool has a block target to run: it has LUNs (served over iSCSI on its floating IPs, and over FC with fc). */
export function hasTarget(pool: Pick<HaPool, 'luns'>): boolean {
  return (pool.luns?.length ?? 0) > 0;
}

/** The services that stop before an export (shares and the block target), in their order. */
function serviceStops(pool: HaPool, node: string): Step[] {
  return [...(pool.shares.length ? [{ kind: 'share.stop' as const, node }] : []), ...(hasTarget(pool) ? [{ kind: 'target.stop' as const, node }] : [])];
}

/** A step that starts a service on the pool's mountpoint and floating IPs (a share or the block target). */
export function isServiceStart(step: Step): boolean {
  return step.kind === 'share.start' || step.kind === 'target.start';
}

/** A step that stops a service of the pool (shares or the block target). */
export function isServiceStop(step: Step): boolean {
  return step.kind === 'share.stop' || step.kind === 'target.stop';
}

/**
 * Down: shares first (so nothing holds the pool), then IPs, then the export — or, for a
 * replicated pool that stays in the cluster (a move), the node's copy becomes a passive replica.
 */
export function bringDownSteps(pool: HaPool, node: string, force = false, end: 'export' | 'replica' = pool.mode === 'replicated' ? 'replica' : 'export'): Step[] {
  const last: Step = end === 'replica' ? { kind: 'pool.demote', node, role: 'replica', epoch: pool.epoch } : { kind: 'pool.export', node, force };
  return [...serviceStops(pool, node), ...pool.vips.map((vip) => ({ kind: 'ip.remove' as const, node, vip })), last];
}

/**
 * An automatic failover away from an owner that is still alive (its client link or the pool
 * itself failed there): the fence order — IPs down first, then shares, then a forced export
 * after which, when it has not finished in `hardFenceAfterMs`, the node fences itself harder.
 */
export function releaseSteps(pool: HaPool, node: string, hardFenceAfterMs: number, poolHealthy = true): Step[] {
  // a replicated pool's copy that still works stays there, read-only, for data retrieval (sync
  // is locked); one whose disks failed is let go of like any other
  const last: Step =
    pool.mode === 'replicated' && poolHealthy ? { kind: 'pool.demote', node, role: 'retrieval', epoch: pool.epoch } : { kind: 'pool.export', node, force: true, hardFenceAfterMs, epoch: pool.epoch };
  return [...pool.vips.map((vip) => ({ kind: 'ip.remove' as const, node, vip })), ...serviceStops(pool, node), last];
}

/** Up: import under the new epoch, then IPs (with ARP), then shares and the block target on those IPs. */
export function bringUpSteps(pool: HaPool, node: string, epoch: number, force = false): Step[] {
  return [
    // a replicated pool's copy is the node's own: never force-imported
    { kind: 'pool.import', node, epoch, force: pool.mode === 'replicated' ? false : force },
    ...pool.vips.map((vip) => ({ kind: 'ip.add' as const, node, vip, epoch })),
    ...pool.shares.map((share) => ({ kind: 'share.start' as const, node, share })),
    ...(hasTarget(pool) ? [{ kind: 'target.start' as const, node }] : []),
  ];
}
