import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterStatus, NodeStatus } from '@tandem/contracts';
import { offlineDecision, offlineDone } from './cluster';

function node(id: string, state: NodeStatus['state'], pools: string[] = []): NodeStatus {
  return { id, state, health: 'healthy', healthDetail: null, thisNode: id === 'node-a', heartbeatAddress: null, heartbeatLink: 'up', pools };
}

function status(...nodes: NodeStatus[]): ClusterStatus {
  return { cluster: { id: 'tandem', heartbeatInterface: 'hb0', maintenance: false, createdAt: '2026-01-01T00:00:00.000Z' }, answeredBy: 'node-a', nodes };
}

test('node offline: the last online node ends the cluster and needs --yes', () => {
  const d = offlineDecision(status(node('node-a', 'online', ['tank', 'backup']), node('node-b', 'offline')), 'node-a');
  assert.equal(d.kind, 'ends-cluster');
  assert.match(
    d.kind === 'ends-cluster' ? d.warning : '',
    /^node-a is the last online node of cluster tandem: taking it offline destroys the cluster — the shares of its pools stop and its pools are exported \(backup, tank\)$/,
  );
  assert.match(d.doing, /ending cluster tandem/);
  // Alone in the cluster, serving nothing: still the end of the cluster.
  const alone = offlineDecision(status(node('node-a', 'online')), 'node-a');
  assert.equal(alone.kind, 'ends-cluster');
  assert.match(alone.kind === 'ends-cluster' ? alone.warning : '', /it serves no pools$/);
  // A node that does not answer is still online for the cluster: it is the last one all the same.
  assert.equal(offlineDecision(status(node('node-a', 'down', ['tank'])), 'node-a').kind, 'ends-cluster');
});

test('node offline: with another node set online it goes on, saying what moves', () => {
  const d = offlineDecision(status(node('node-a', 'online', ['tank']), node('node-b', 'online')), 'node-a');
  assert.deepEqual(d, { kind: 'go', doing: 'taking node-a offline (moving tank away first)' });
  assert.deepEqual(offlineDecision(status(node('node-a', 'online'), node('node-b', 'online')), 'node-b'), { kind: 'go', doing: 'taking node-b offline' });
  // The only other node does not answer: the resource-manager will try, fail, and keep the node online.
  const down = offlineDecision(status(node('node-a', 'online', ['tank']), node('node-b', 'down')), 'node-a');
  assert.equal(down.kind, 'go');
  assert.match(down.kind === 'go' ? (down.note ?? '') : '', /only move to node-b, which does not answer: the move will fail and node-a stays online/);
});

test('node offline: no cluster, an unknown node or one already offline is left to the resource-manager to answer', () => {
  assert.equal(offlineDecision({ cluster: null, answeredBy: 'node-a', nodes: [] }, 'node-a').kind, 'go');
  assert.equal(offlineDecision(status(node('node-a', 'online')), 'node-z').kind, 'go');
  assert.equal(offlineDecision(status(node('node-a', 'offline'), node('node-b', 'offline')), 'node-a').kind, 'go');
});

test('node offline: what happened', () => {
  assert.equal(
    offlineDone(
      {
        node: 'node-a',
        moved: [
          { pool: 'tank', to: 'node-b' },
          { pool: 'b', to: 'node-c' },
        ],
        clusterDestroyed: false,
        exported: [],
      },
      'tandem',
    ),
    'node-a is offline in {t}; moved tank → node-b, b → node-c',
  );
  assert.equal(offlineDone({ node: 'node-a', moved: [], clusterDestroyed: false, exported: [] }, 'tandem'), 'node-a is offline in {t}; no pools moved');
  assert.equal(offlineDone({ node: 'node-a', moved: [], clusterDestroyed: true, exported: ['tank'] }, 'tandem'), 'node-a is offline in {t}: cluster tandem ended; exported tank');
  assert.equal(offlineDone({ node: 'node-a', moved: [], clusterDestroyed: true, exported: [] }, undefined), 'node-a is offline in {t}: the cluster ended; no pools to export');
});
