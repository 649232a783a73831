import type { ActivityEntry, ClusterStatus, EventEnvelope, HaPool, NodeStatus, ProblemDetails, ReplicationPoolStatus } from '@tandem/contracts';

/**
 * What the console shows, computed from what the API answers and the events it streams: pure
 * functions of the state, so the page only draws them (and the tests check them without a browser).
 */

/** What one node's heartbeat says of a peer (node up/suspect/down events), newest wins. */
export type Liveness = 'up' | 'suspect' | 'down';

export type Colour = 'green' | 'amber' | 'red';

export interface FailoverNotice {
  id: string;
  pool: string;
  from: string;
  to: string;
  reason: string;
  totalMs: number;
  traceId: string | null;
  at: string;
}

export interface ConsoleState {
  status: ClusterStatus | null;
  pools: HaPool[];
  /** Peer liveness by node, from the heartbeat events since the page opened. */
  liveness: Record<string, Liveness>;
  failovers: FailoverNotice[];
  /** Failed automatic failovers: pool and why, shown with the inactive pool. */
  failoverFailures: Record<string, string>;
  activity: ActivityEntry[];
}

export const emptyState = (): ConsoleState => ({ status: null, pools: [], liveness: {}, failovers: [], failoverFailures: {}, activity: [] });

export function nodeColour(node: Pick<NodeStatus, 'state' | 'health'>, liveness?: Liveness): Colour {
  if (node.state !== 'online' || liveness === 'down') return 'red';
  if (node.health === 'degraded' || liveness === 'suspect') return 'amber';
  return 'green';
}

export function nodeStateLabel(node: Pick<NodeStatus, 'state' | 'health'>, liveness?: Liveness): string {
  if (node.state === 'offline') return 'Offline';
  if (node.state === 'down' || liveness === 'down') return 'Down';
  if (liveness === 'suspect') return 'Suspect';
  if (node.health === 'degraded') return 'Degraded';
  return 'Healthy';
}

export function vipText(v: { interface: string; address: string; prefix: number }): string {
  return `${v.address}/${v.prefix} on ${v.interface}`;
}

export interface PoolCard {
  name: string;
  state: HaPool['state'];
  /** What the badge says: Serving, Moving…, Inactive. */
  stateLabel: string;
  inTransition: boolean;
  /** Move, remove, export: never while an operation runs on it. */
  actionsDisabled: boolean;
  access: string[];
  shares: string[];
  mode: 'shared' | 'replicated';
  /** Nodes this pool failed on (automatic failover away): each offers "Mark usable". */
  failedOn: string[];
  /** Replicated pools: the replication line, and the red lock line when locked. */
  replication: ReplicationView | null;
  /** The nodes it can be moved to. */
  moveTargets: string[];
}

export interface ReplicationView {
  direction: string;
  state: string;
  lag: string;
  lastSync: string;
  locked: string | null;
}

/** Serving, Inactive, or the operation that runs (`move to node-b…`, `export…`). */
export function poolStateLabel(p: Pick<HaPool, 'state' | 'operation'>): string {
  if (p.state === 'serving') return 'Serving';
  if (p.state === 'inactive') return 'Inactive';
  const op = p.operation ?? 'in transition';
  return `${op.charAt(0).toUpperCase()}${op.slice(1)}…`;
}

export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined) return '—';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round((s / 3600) * 10) / 10} h`;
  return `${Math.round((s / 86400) * 10) / 10} d`;
}

export function replicationView(r: ReplicationPoolStatus | undefined, now: number): ReplicationView | null {
  if (!r) return null;
  const replicas = Object.values(r.replication?.replicas ?? {});
  const lag = replicas.length ? Math.max(...replicas.map((x) => x.lagSeconds ?? 0)) : null;
  const last = replicas
    .map((x) => x.lastTransfer?.at ?? x.lastSuccessAt ?? null)
    .filter((x): x is string => !!x)
    .sort()
    .pop();
  return {
    direction: r.direction ?? '—',
    state: r.state,
    lag: duration(lag),
    lastSync: last ? `${duration((now - Date.parse(last)) / 1000)} ago` : 'never',
    locked: r.state === 'locked' ? (r.message ?? `Failover occurred. Sync for ${r.pool} is locked!`) : null,
  };
}

export function poolCard(p: HaPool, nodes: readonly NodeStatus[], replication: readonly ReplicationPoolStatus[] = [], now = Date.now()): PoolCard {
  const inTransition = p.state === 'in-transition';
  const access = p.fc ? ['Fibre Channel', ...p.vips.map(vipText)] : p.vips.map(vipText);
  return {
    name: p.name,
    state: p.state,
    stateLabel: poolStateLabel(p),
    inTransition,
    actionsDisabled: inTransition,
    access,
    shares: p.shares.map((s) => `${s.name} (${s.protocol.toUpperCase()}${s.path ? ` ${s.path}` : ''}${s.readOnly ? ', read-only' : ''})`),
    mode: p.mode ?? 'shared',
    failedOn: p.failedOn ?? [],
    replication:
      p.mode === 'replicated'
        ? replicationView(
            replication.find((r) => r.pool === p.name),
            now,
          )
        : null,
    moveTargets: nodes.filter((n) => n.id !== p.node && n.state === 'online').map((n) => n.id),
  };
}

export interface NodeColumn {
  id: string;
  colour: Colour;
  stateLabel: string;
  thisNode: boolean;
  offline: boolean;
  /** "Remove" is offered on an offline node, never on the one serving the page. */
  canRemove: boolean;
  canTakeOffline: boolean;
  canBringOnline: boolean;
  /** The plus button: a pool can be attached to a node that is online and heard. */
  canAttach: boolean;
  healthDetail: string | null;
  pools: PoolCard[];
}

export function nodeColumns(state: Pick<ConsoleState, 'status' | 'pools' | 'liveness'>, now = Date.now()): NodeColumn[] {
  const nodes = state.status?.nodes ?? [];
  const replication = state.status?.replication ?? [];
  return nodes.map((n) => ({
    id: n.id,
    colour: nodeColour(n, state.liveness[n.id]),
    stateLabel: nodeStateLabel(n, state.liveness[n.id]),
    thisNode: n.thisNode,
    offline: n.state === 'offline',
    canRemove: n.state === 'offline' && !n.thisNode,
    canTakeOffline: n.state !== 'offline',
    canBringOnline: n.state === 'offline',
    canAttach: n.state === 'online' && state.liveness[n.id] !== 'down',
    healthDetail: n.healthDetail,
    pools: state.pools
      .filter((p) => p.node === n.id && p.state !== 'inactive')
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((p) => poolCard(p, nodes, replication, now)),
  }));
}

/** The heartbeat link between each pair of neighbouring columns: up only when both ends say so and neither is heard down since. */
export function heartbeatLinks(nodes: readonly Pick<NodeStatus, 'id' | 'heartbeatLink' | 'state'>[], liveness: Record<string, Liveness> = {}): Array<{ from: string; to: string; up: boolean }> {
  const links: Array<{ from: string; to: string; up: boolean }> = [];
  const up = (n: Pick<NodeStatus, 'id' | 'heartbeatLink' | 'state'>) => n.heartbeatLink === 'up' && n.state !== 'down' && liveness[n.id] !== 'down';
  for (let i = 0; i + 1 < nodes.length; i++) links.push({ from: nodes[i].id, to: nodes[i + 1].id, up: up(nodes[i]) && up(nodes[i + 1]) });
  return links;
}

export interface InactivePoolView {
  name: string;
  reason: string;
  /** The nodes it can be reattached to, the suggested one first. */
  nodes: string[];
  suggested: string | null;
}

/**
 * Inactive pools with their reason and where to reattach them: online nodes it did not fail on
 * come first (the one it last ran on before the others), then the rest of the online nodes.
 */
export function inactivePools(state: Pick<ConsoleState, 'status' | 'pools' | 'failoverFailures'>): InactivePoolView[] {
  const online = (state.status?.nodes ?? []).filter((n) => n.state === 'online').map((n) => n.id);
  return state.pools
    .filter((p) => p.state === 'inactive')
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((p) => {
      const failed = new Set(p.failedOn ?? []);
      const rank = (n: string) => (failed.has(n) ? 2 : n === p.node ? 0 : 1);
      const nodes = [...online].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
      return {
        name: p.name,
        reason: p.reason ?? state.failoverFailures[p.name] ?? 'no reason recorded',
        nodes,
        suggested: nodes.length && !failed.has(nodes[0]) ? nodes[0] : null,
      };
    });
}

/** "Take this node offline": what will happen to its pools. */
export function offlineImpact(node: string, state: Pick<ConsoleState, 'status' | 'pools'>): string[] {
  const others = (state.status?.nodes ?? []).filter((n) => n.id !== node && n.state === 'online').map((n) => n.id);
  const pools = state.pools.filter((p) => p.node === node && p.state !== 'inactive').map((p) => p.name);
  if (others.length === 0) {
    return ['This is the last online node: the cluster is destroyed and has to be created again.', ...pools.map((p) => `${p} is exported: its services stop and no client can reach it.`)];
  }
  if (pools.length === 0) return [`${node} serves no pool: nothing moves.`];
  return pools.map((p) => `${p} moves to ${others[0]}${others.length > 1 ? ' (or another online node)' : ''}: its clients pause for a few seconds and reconnect on the same floating IPs.`);
}

export type PoolAction = 'move' | 'detach' | 'export' | 'remove' | 'reattach' | 'mark-usable';

/** The confirmation of a pool action: what happens to its clients. */
export function confirmText(action: PoolAction, pool: string, target?: string): { title: string; body: string; button: string } {
  switch (action) {
    case 'move':
      return {
        title: `Move ${pool} to ${target}`,
        body: `${pool} is exported here and imported on ${target}; its floating IPs and shares follow it. Clients pause for a few seconds while it moves and reconnect to the same addresses.`,
        button: 'Move pool',
      };
    case 'detach':
      return {
        title: `Remove ${pool} from cluster control`,
        body: `${pool} stays imported and served where it is, but the cluster no longer manages it: clients keep working, and nothing takes it over if its node fails.`,
        button: 'Remove from cluster control',
      };
    case 'export':
      return {
        title: `Export ${pool} from cluster control`,
        body: `${pool}'s shares and floating IPs stop and the pool is exported: clients can no longer reach it. It stays in the Inactive cluster pools box, from where it can be reattached.`,
        button: 'Export pool',
      };
    case 'remove':
      return {
        title: `Remove ${pool}`,
        body: `The inactive pool ${pool} is dropped from the cluster's configuration. Its clients already cannot reach it; the pool itself is not touched and can be imported again.`,
        button: 'Remove pool',
      };
    case 'reattach':
      return {
        title: `Reattach ${pool} on ${target}`,
        body: `${pool} is imported on ${target} and its floating IPs and shares start: clients can reach it again. Make sure the reason it became inactive is gone first.`,
        button: 'Reattach pool',
      };
    case 'mark-usable':
      return {
        title: `Mark ${target} usable for ${pool}`,
        body: `${pool} failed on ${target}. Marking it usable lets the cluster move ${pool} there again (by hand or by a failover). Nothing moves now.`,
        button: 'Mark usable',
      };
  }
}

export function failoverText(f: FailoverNotice): string {
  return `Automatic failover: ${f.pool} moved from ${f.from} to ${f.to} (${f.reason.replace(/-/g, ' ')}) in ${(f.totalMs / 1000).toFixed(1)} s`;
}

export const MAINTENANCE_WARNING =
  'While the cluster is in maintenance, it keeps its structure and configuration but does not fail over: a node that fails takes its pools down with it until maintenance is turned off. Operators can still move pools and nodes by hand.';

/** The problem detail of a failed call as one line, with its field and trace id. */
export function problemText(p: Pick<ProblemDetails, 'title' | 'detail' | 'field' | 'traceId'>): string {
  const field = p.field && !p.detail.startsWith(p.field) ? ` (${p.field})` : '';
  return `${p.detail}${field} [${p.title}${p.traceId ? `, trace ${p.traceId}` : ''}]`;
}

/** The API certificate fingerprint a refused join names (so the operator can check and pin it). */
export function presentedFingerprint(detail: string): string | null {
  return /SHA-256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})/i.exec(detail)?.[1] ?? null;
}

/** Floating IP rows of the attach form → the API's INTERFACE:ADDRESS/PREFIX; the netmask may be a prefix (24) or dotted (255.255.255.0). */
export function vipSpec(iface: string, address: string, netmask: string): string | null {
  const prefix = netmaskPrefix(netmask.trim());
  if (prefix === null || !iface.trim() || !address.trim()) return null;
  return `${iface.trim()}:${address.trim()}/${prefix}`;
}

export function netmaskPrefix(mask: string): number | null {
  if (/^\d{1,3}$/.test(mask)) {
    const n = Number(mask);
    return n >= 1 && n <= 128 ? n : null;
  }
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(mask);
  if (!m) return null;
  const bits = m
    .slice(1)
    .map((x) => Number(x))
    .reduce((acc, o) => (o > 255 ? NaN : acc * 256 + o), 0);
  if (Number.isNaN(bits)) return null;
  const s = bits.toString(2).padStart(32, '0');
  if (!/^1+0*$/.test(s)) return null;
  return s.indexOf('0') === -1 ? 32 : s.indexOf('0');
}

export interface ActivityFilter {
  pool?: string;
  node?: string;
  result?: ActivityEntry['result'];
}

/** Newest first; a pool filter matches the target, a node filter the node it ran on or the target. */
export function filterActivity(entries: readonly ActivityEntry[], f: ActivityFilter): ActivityEntry[] {
  return entries
    .filter((e) => (!f.pool || e.target === f.pool) && (!f.node || e.nodeId === f.node || e.target === f.node) && (!f.result || e.result === f.result))
    .sort((a, b) => b.at.localeCompare(a.at));
}

/**
 * The pools as read by a refresh, without going back in time: a read that started before an event
 * arrived answers the older record, and the page keeps the newer one it already shows.
 */
export function mergePools(current: readonly HaPool[], fetched: readonly HaPool[]): HaPool[] {
  const shown = new Map(current.map((p) => [p.name, p]));
  return fetched.map((p) => {
    const c = shown.get(p.name);
    return c && c.updatedAt > p.updatedAt ? c : p;
  });
}

/** What an event changes: applied to the state at once; `refresh` says the status must be read again. */
export function applyEvent(state: ConsoleState, ev: EventEnvelope): { state: ConsoleState; refresh: boolean } {
  const verb = ev.schema.replace(/^tandem\./, '').replace(/\/\d+$/, '');
  const data = (ev.data ?? {}) as Record<string, unknown>;
  switch (verb) {
    case 'pool.changed': {
      const p = data.pool as HaPool | undefined;
      if (!p || typeof p.name !== 'string') return { state, refresh: true };
      const pools = state.pools.some((x) => x.name === p.name) ? state.pools.map((x) => (x.name === p.name ? p : x)) : [...state.pools, p];
      return { state: { ...state, pools }, refresh: true };
    }
    case 'pool.removed':
      return { state: { ...state, pools: state.pools.filter((p) => p.name !== ev.entity.id) }, refresh: true };
    case 'pool.failed-over': {
      const timings = (data.timings ?? {}) as { totalMs?: number };
      const notice: FailoverNotice = {
        id: ev.id,
        pool: ev.entity.id,
        from: String(data.from),
        to: String(data.to),
        reason: String(data.reason),
        totalMs: timings.totalMs ?? 0,
        traceId: (data.traceId as string | null) ?? null,
        at: ev.at,
      };
      if (state.failovers.some((f) => f.id === ev.id)) return { state, refresh: true };
      return { state: { ...state, failovers: [notice, ...state.failovers] }, refresh: true };
    }
    case 'pool.failover-failed':
      return { state: { ...state, failoverFailures: { ...state.failoverFailures, [ev.entity.id]: String(data.reason) } }, refresh: true };
    case 'node.up':
    case 'node.suspect':
    case 'node.down': {
      const peer = typeof data.peer === 'string' ? data.peer : ev.entity.id;
      return { state: { ...state, liveness: { ...state.liveness, [peer]: verb.slice(5) as Liveness } }, refresh: true };
    }
    case 'cluster.activity': {
      const entry: ActivityEntry = { ...(data as Omit<ActivityEntry, 'id' | 'at' | 'eventId'>), id: ev.id, at: ev.at, eventId: ev.id };
      return { state: { ...state, activity: [entry, ...state.activity].slice(0, 500) }, refresh: false };
    }
    case 'cluster.changed':
    case 'cluster.failover-declined':
    case 'node.health-changed':
    case 'node.pools-changed':
    case 'replication.locked':
    case 'replication.resumed':
    case 'replication.transferred':
    case 'replication.error':
      return { state, refresh: true };
    default:
      return { state, refresh: false };
  }
}
