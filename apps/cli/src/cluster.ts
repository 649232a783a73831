import type { ClusterOpResults, ClusterStatus } from '@tandem/contracts';

/**
 * What `tandem node offline NODE` will do, decided from the cluster status before anything is
 * asked. Mirrors the resource-manager: a node's pools move to the other nodes set online (also
 * those that are down: the move to them then fails and the node stays online); when there is no
 * other node set online, the node is the last one and taking it offline ends the cluster.
 */
export type OfflineDecision =
  | {
      kind: 'go';
      /** The progress line. */
      doing: string;
      /** Said before going on (e.g. the only nodes to move to are down). */
      note?: string;
    }
  | {
      kind: 'ends-cluster';
      doing: string;
      /** Why --yes is needed. */
      warning: string;
    };

export function offlineDecision(status: ClusterStatus, node: string): OfflineDecision {
  const plain: OfflineDecision = { kind: 'go', doing: `taking ${node} offline` };
  const me = status.nodes.find((n) => n.id === node);
  // No cluster, a node that is not in it, or one already offline: the resource-manager says so.
  if (!status.cluster || !me || me.state === 'offline') return plain;
  const others = status.nodes.filter((n) => n.id !== node && n.state !== 'offline');
  if (others.length === 0) {
    const pools = [...new Set(status.nodes.flatMap((n) => n.pools))].sort();
    const what = pools.length ? `the shares of its pools stop and its pools are exported (${pools.join(', ')})` : 'it serves no pools';
    return {
      kind: 'ends-cluster',
      doing: `taking ${node} offline, the last online node: ending cluster ${status.cluster.id}`,
      warning: `${node} is the last online node of cluster ${status.cluster.id}: taking it offline destroys the cluster — ${what}`,
    };
  }
  const decision: OfflineDecision = { kind: 'go', doing: me.pools.length ? `taking ${node} offline (moving ${me.pools.join(', ')} away first)` : `taking ${node} offline` };
  if (me.pools.length && others.every((n) => n.state === 'down')) {
    const names = others.map((n) => n.id).join(', ');
    decision.note = `its pools can only move to ${names}, which ${others.length > 1 ? 'do' : 'does'} not answer: the move will fail and ${node} stays online`;
  }
  return decision;
}

/** The line after `node offline` succeeded. */
export function offlineDone(r: ClusterOpResults['node.offline'], clusterId: string | undefined): string {
  if (r.clusterDestroyed) {
    const cluster = clusterId ? `cluster ${clusterId}` : 'the cluster';
    return `${r.node} is offline in {t}: ${cluster} ended; ${r.exported.length ? `exported ${r.exported.join(', ')}` : 'no pools to export'}`;
  }
  if (r.moved.length === 0) return `${r.node} is offline in {t}; no pools moved`;
  return `${r.node} is offline in {t}; moved ${r.moved.map((m) => `${m.pool} → ${m.to}`).join(', ')}`;
}
