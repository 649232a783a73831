import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError, nodeIdSchema, type ClusterStatus } from '@tandem/contracts';
import { asSeenFrom, clusterRequest, joinRequest } from './cluster.controller';
import { pathParam } from './resource-manager';

function invalid(fn: () => unknown, field: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InvalidArgument && e.field === field && (!re || re.test(e.message)), `expected INVALID_ARGUMENT on ${field}`);
}

test('cluster requests: the body plus what the gateway sets, checked with the contract', () => {
  assert.deepEqual(clusterRequest('cluster.create', { heartbeatInterface: 'hb0' }, { node: 'node-a', actor: 'api@node-a' }), { heartbeatInterface: 'hb0', node: 'node-a', actor: 'api@node-a' });
  assert.deepEqual(clusterRequest('cluster.join', { node: 'node-b' }, { actor: 'cli:alice@h1' }), { node: 'node-b', actor: 'cli:alice@h1' });
  assert.deepEqual(clusterRequest('node.offline', undefined, { node: 'node-b', actor: 'x' }), { node: 'node-b', actor: 'x' });
  assert.deepEqual(clusterRequest('maintenance.set', { on: true }, { actor: 'x' }), { on: true, actor: 'x' });
  assert.deepEqual(clusterRequest('cluster.status', {}, {}), {});
});

test('bad cluster bodies are refused naming the field, before anything is sent', () => {
  invalid(() => clusterRequest('cluster.create', { heartbeatInterface: 'hb0;reboot' }, { node: 'node-a', actor: 'a' }), 'heartbeatInterface', /Linux interface name/);
  invalid(() => clusterRequest('cluster.create', {}, { node: 'node-a', actor: 'a' }), 'heartbeatInterface', /is required/);
  invalid(
    () => clusterRequest('cluster.create', { heartbeatInterface: 'hb0', node: 'node-b' }, { node: 'node-a', actor: 'a' }, { node: "is this gateway's node (node-a)" }),
    'node',
    /this gateway's node/,
  );
  invalid(() => clusterRequest('cluster.join', { node: 'Node B' }, { actor: 'a' }), 'node');
  invalid(() => clusterRequest('cluster.join', { node: 'node-b', actor: 'me' }, { actor: 'a' }), 'actor', /X-Tandem-Actor/i);
  invalid(() => clusterRequest('maintenance.set', { on: 'yes' }, { actor: 'a' }), 'on');
  invalid(() => clusterRequest('maintenance.set', {}, { actor: 'a' }), 'on', /is required/);
  invalid(() => clusterRequest('node.offline', { node: 'node-c' }, { node: 'node-b', actor: 'a' }), 'node', /path/);
  invalid(() => clusterRequest('node.online', { force: true }, { node: 'node-b', actor: 'a' }), 'force', /unknown field/);
  invalid(() => clusterRequest('maintenance.set', [true], { actor: 'a' }), '(body)');
  invalid(() => pathParam('node', '$(reboot)', nodeIdSchema), 'node', /^node: must be lowercase/);
});

test('the join body: peer an IP address, password not empty', () => {
  assert.deepEqual(joinRequest({ peer: '10.77.1.11', password: 'pw' }), { peer: '10.77.1.11', password: 'pw' });
  assert.deepEqual(joinRequest({ peer: 'fd00::11', password: 'pw' }), { peer: 'fd00::11', password: 'pw' });
  invalid(() => joinRequest({ peer: '999.1.1.1', password: 'pw' }), 'peer', /IPv4 or IPv6/);
  invalid(() => joinRequest({ peer: 'node-a.example', password: 'pw' }), 'peer');
  invalid(() => joinRequest({ peer: 'fe80::1%hb0', password: 'pw' }), 'peer', /zone/);
  invalid(() => joinRequest({ peer: '10.77.1.11' }), 'password', /is required/);
  invalid(() => joinRequest({ peer: '10.77.1.11', password: '' }), 'password');
  invalid(() => joinRequest({ peer: '10.77.1.11', password: 'pw', node: 'node-b' }), 'node', /unknown field/);
  invalid(() => joinRequest('10.77.1.11'), '(body)');
});

test("the status describes the gateway's node, whichever resource-manager computed it", () => {
  const computed: ClusterStatus = {
    cluster: { id: 'tandem', heartbeatInterface: 'hb0', maintenance: false, createdAt: '2026-01-01T00:00:00.000Z' },
    answeredBy: 'node-a',
    nodes: [
      { id: 'node-a', state: 'online', health: 'healthy', healthDetail: null, thisNode: true, heartbeatAddress: '10.77.1.11', heartbeatLink: 'up', pools: ['tank'] },
      { id: 'node-b', state: 'online', health: 'healthy', healthDetail: null, thisNode: false, heartbeatAddress: '10.77.1.12', heartbeatLink: 'up', pools: [] },
    ],
  };
  const seen = asSeenFrom(computed, 'node-b');
  assert.equal(seen.answeredBy, 'node-b');
  assert.deepEqual(
    seen.nodes.map((n) => [n.id, n.thisNode]),
    [
      ['node-a', false],
      ['node-b', true],
    ],
  );
  assert.deepEqual(seen.cluster, computed.cluster);
  assert.equal(computed.nodes[0].thisNode, true, 'the answer itself is not changed');
  assert.deepEqual(asSeenFrom({ cluster: null, answeredBy: 'node-a', nodes: [] }, 'node-c'), { cluster: null, answeredBy: 'node-c', nodes: [] });
  assert.ok(
    asSeenFrom(computed, 'node-z').nodes.every((n) => !n.thisNode),
    'a gateway whose node is not a member',
  );
});
