import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActivityEntry, ClusterStatus, EventEnvelope, HaPool, NodeStatus, ReplicationPoolStatus } from '@tandem/contracts';
import {
  applyEvent,
  confirmText,
  emptyState,
  failoverText,
  filterActivity,
  heartbeatLinks,
  inactivePools,
  mergePools,
  netmaskPrefix,
  nodeColumns,
  nodeColour,
  offlineImpact,
  poolStateLabel,
  presentedFingerprint,
  problemText,
  vipSpec,
  type ConsoleState,
} from './model';

const node = (id: string, over: Partial<NodeStatus> = {}): NodeStatus => ({
  id,
  state: 'online',
  health: 'healthy',
  healthDetail: null,
  thisNode: false,
  heartbeatAddress: null,
  heartbeatLink: 'up',
  pools: [],
  ...over,
});

const pool = (name: string, over: Partial<HaPool> = {}): HaPool => ({
  name,
  state: 'serving',
  node: 'node-a',
  operation: null,
  reason: null,
  vips: [{ interface: 'cli0', address: '10.77.3.80', prefix: 24 }],
  shares: [],
  fc: false,
  epoch: 1,
  mountpoint: '/tank',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});

const status = (nodes: NodeStatus[], over: Partial<ClusterStatus> = {}): ClusterStatus => ({
  cluster: { id: 'c1', heartbeatInterface: 'hb0', maintenance: false, createdAt: '2026-01-01T00:00:00.000Z' },
  answeredBy: 'node-a',
  nodes,
  ...over,
});

const envelope = (schema: string, entity: string, data: unknown, id = 'evt-00000001'): EventEnvelope => ({
  schema,
  id,
  clusterId: 'c1',
  at: '2026-01-01T00:00:05.000Z',
  traceparent: null,
  source: 'resource-manager@node-a',
  entity: { kind: schema.split('.')[1], id: entity },
  data,
});

test('node colours: green healthy, amber suspect or degraded, red down or offline', () => {
  assert.equal(nodeColour(node('a')), 'green');
  assert.equal(nodeColour(node('a', { health: 'degraded' })), 'amber');
  assert.equal(nodeColour(node('a'), 'suspect'), 'amber');
  assert.equal(nodeColour(node('a', { state: 'down' })), 'red');
  assert.equal(nodeColour(node('a', { state: 'offline' })), 'red');
  assert.equal(nodeColour(node('a'), 'down'), 'red', 'a peer heard down is red before the status says so');
});

test('columns: one per node, This node, its serving pools with IPs and shares; an offline node offers Remove, never the one serving the page', () => {
  const state: ConsoleState = {
    ...emptyState(),
    status: status([node('node-a', { thisNode: true }), node('node-b', { state: 'offline' })]),
    pools: [
      pool('tank', { shares: [{ name: 'files', protocol: 'smb', path: 'files', readOnly: false, clients: [], rootSquash: true, users: ['alice'], guest: false }] }),
      pool('fc1', { fc: true, vips: [] }),
      pool('gone', { state: 'inactive', node: null, reason: 'exported by the operator' }),
    ],
  };
  const cols = nodeColumns(state);
  assert.deepEqual(
    cols.map((c) => [c.id, c.colour, c.thisNode, c.canRemove, c.canTakeOffline, c.canAttach, c.stateLabel]),
    [
      ['node-a', 'green', true, false, true, true, 'Healthy'],
      ['node-b', 'red', false, true, false, false, 'Offline'],
    ],
  );
  assert.deepEqual(
    cols[0].pools.map((p) => [p.name, p.access, p.shares, p.stateLabel]),
    [
      ['fc1', ['Fibre Channel'], [], 'Serving'],
      ['tank', ['10.77.3.80/24 on cli0'], ['files (SMB files)'], 'Serving'],
    ],
  );
  assert.deepEqual(cols[0].pools[1].moveTargets, [], 'an offline node is no target');
  assert.deepEqual(cols[1].pools, [], 'inactive pools are in no column');
});

test('a pool in transition says what runs and its buttons are disabled', () => {
  const state = { ...emptyState(), status: status([node('node-a'), node('node-b')]), pools: [pool('tank', { state: 'in-transition', operation: 'move to node-b' })] };
  const card = nodeColumns(state)[0].pools[0];
  assert.equal(card.inTransition, true);
  assert.equal(card.actionsDisabled, true);
  assert.equal(card.stateLabel, 'Move to node-b…');
  assert.deepEqual(card.moveTargets, ['node-b']);
  assert.equal(poolStateLabel({ state: 'in-transition', operation: null }), 'In transition…');
});

test('heartbeat links: up only when both ends hear each other', () => {
  assert.deepEqual(heartbeatLinks([node('a'), node('b')]), [{ from: 'a', to: 'b', up: true }]);
  assert.deepEqual(heartbeatLinks([node('a'), node('b', { state: 'down', heartbeatLink: 'unknown' })]), [{ from: 'a', to: 'b', up: false }]);
  assert.deepEqual(heartbeatLinks([node('a')]), []);
  assert.deepEqual(heartbeatLinks([node('a'), node('b')], { b: 'down' }), [{ from: 'a', to: 'b', up: false }], 'a peer heard down before the status says so');
});

test('inactive pools: the reason, and the nodes to reattach to with the suggested one first (never one it failed on)', () => {
  const st = status([node('node-a'), node('node-b'), node('node-c', { state: 'offline' })]);
  const views = inactivePools({
    status: st,
    failoverFailures: { lost: 'no node can import it' },
    pools: [pool('tank', { state: 'inactive', node: null, reason: 'exported by the operator', failedOn: ['node-a'] }), pool('lost', { state: 'inactive', node: null, reason: null })],
  });
  assert.deepEqual(views, [
    { name: 'lost', reason: 'no node can import it', nodes: ['node-a', 'node-b'], suggested: 'node-a' },
    { name: 'tank', reason: 'exported by the operator', nodes: ['node-b', 'node-a'], suggested: 'node-b' },
  ]);
});

test('taking a node offline says where its pools go, or that the cluster ends with the last node', () => {
  const pools = [pool('tank'), pool('other', { node: 'node-b' })];
  assert.deepEqual(offlineImpact('node-a', { status: status([node('node-a'), node('node-b')]), pools }), [
    'tank moves to node-b: its clients pause for a few seconds and reconnect on the same floating IPs.',
  ]);
  assert.deepEqual(offlineImpact('node-a', { status: status([node('node-a')]), pools: [pool('tank')] }), [
    'This is the last online node: the cluster is destroyed and has to be created again.',
    'tank is exported: its services stop and no client can reach it.',
  ]);
  assert.deepEqual(offlineImpact('node-b', { status: status([node('node-a'), node('node-b')]), pools: [pool('tank')] }), ['node-b serves no pool: nothing moves.']);
});

test('each confirmation says what happens to clients', () => {
  assert.match(confirmText('move', 'tank', 'node-b').body, /Clients pause .* same addresses/);
  assert.match(confirmText('export', 'tank').body, /clients can no longer reach it/);
  assert.match(confirmText('detach', 'tank').body, /clients keep working/);
  assert.match(confirmText('reattach', 'tank', 'node-a').body, /clients can reach it again/);
});

test('events: a pool change is shown at once, a failover raises a banner once, heartbeat events colour the node, activity is prepended', () => {
  let s: ConsoleState = { ...emptyState(), status: status([node('node-a'), node('node-b')]), pools: [pool('tank')] };
  let r = applyEvent(s, envelope('tandem.pool.changed/1', 'tank', { pool: pool('tank', { node: 'node-b', epoch: 2 }) }));
  assert.equal(r.refresh, true);
  s = r.state;
  assert.equal(s.pools[0].node, 'node-b');
  assert.equal(nodeColumns(s)[1].pools[0].name, 'tank');

  const failedOver = envelope(
    'tandem.pool.failed-over/1',
    'tank',
    {
      from: 'node-b',
      to: 'node-a',
      reason: 'node-down',
      epoch: 3,
      timings: { detectionMs: 3000, fenceWaitMs: 1000, releaseMs: 0, importMs: 500, ipsMs: 50, sharesMs: 50, totalMs: 4600 },
      traceId: 'abc123',
    },
    'evt-failover',
  );
  s = applyEvent(s, failedOver).state;
  s = applyEvent(s, failedOver).state;
  assert.equal(s.failovers.length, 1);
  assert.equal(failoverText(s.failovers[0]), 'Automatic failover: tank moved from node-b to node-a (node down) in 4.6 s');
  assert.equal(s.failovers[0].traceId, 'abc123');

  s = applyEvent(s, envelope('tandem.node.down/1', 'node-b', { observer: 'node-a', peer: 'node-b', previous: 'up', channels: { udp: null, nats: null } })).state;
  assert.equal(nodeColumns(s)[1].colour, 'red');
  s = applyEvent(s, envelope('tandem.node.up/1', 'node-b', { observer: 'node-a', peer: 'node-b', previous: 'down', channels: { udp: 1, nats: 1 } })).state;
  assert.equal(nodeColumns(s)[1].colour, 'green');

  r = applyEvent(s, envelope('tandem.cluster.activity/1', 'c1', { actor: 'console', action: 'pool.move', target: 'tank', result: 'succeeded', error: null, traceId: 't1', nodeId: 'node-a' }));
  assert.equal(r.state.activity[0].action, 'pool.move');
  assert.equal(r.refresh, false);

  s = applyEvent(r.state, envelope('tandem.pool.removed/1', 'tank', { pool: 'tank' })).state;
  assert.deepEqual(s.pools, []);
  assert.equal(applyEvent(s, envelope('tandem.node.links-changed/1', 'node-a', { links: [] })).refresh, false);
});

test('a replicated pool shows direction, state, lag and last sync; a locked one the red line', () => {
  const rep: ReplicationPoolStatus = {
    pool: 'rtank',
    active: 'node-a',
    direction: 'node-a → node-b',
    state: 'locked',
    message: 'Failover occurred. Sync for rtank is locked!',
    possiblyMissingS: 60,
    schedule: { snapshotIntervalS: 900, retention: 24, pullIntervalS: 180, stallTimeoutS: 60 },
    rollbackWindowS: 21600,
    passiveDownLimitS: 21600,
    replication: {
      pool: 'rtank',
      source: 'node-a',
      newestSnapshot: null,
      nextSnapshotAt: null,
      keepAsideOn: [],
      updatedAt: '2026-01-01T00:00:00.000Z',
      replicas: {
        'node-b': {
          state: 'locked',
          reason: null,
          newestCommon: null,
          lagSeconds: 120,
          lagBytes: null,
          lastTransfer: { kind: 'incremental', bytes: 1, ms: 1, at: '2026-01-01T00:00:00.000Z', to: 'node-b' },
          progress: null,
          failures: 0,
          nextPullAt: null,
        },
      },
    },
  };
  const s = { ...emptyState(), status: status([node('node-a'), node('node-b')], { replication: [rep] }), pools: [pool('rtank', { mode: 'replicated' })] };
  const card = nodeColumns(s, Date.parse('2026-01-01T00:05:00.000Z'))[0].pools[0];
  assert.deepEqual(card.replication, { direction: 'node-a → node-b', state: 'locked', lag: '2 min', lastSync: '5 min ago', locked: 'Failover occurred. Sync for rtank is locked!' });
});

test('activity: newest first, filtered by pool, node and result', () => {
  const e = (id: string, at: string, over: Partial<ActivityEntry>): ActivityEntry => ({
    id,
    at,
    eventId: null,
    actor: 'console',
    action: 'pool.move',
    target: 'tank',
    result: 'succeeded',
    error: null,
    traceId: null,
    nodeId: 'node-a',
    ...over,
  });
  const log = [e('1', '2026-01-01T00:00:01Z', {}), e('2', '2026-01-01T00:00:03Z', { result: 'failed', nodeId: 'node-b' }), e('3', '2026-01-01T00:00:02Z', { target: 'other' })];
  assert.deepEqual(
    filterActivity(log, {}).map((x) => x.id),
    ['2', '3', '1'],
  );
  assert.deepEqual(
    filterActivity(log, { pool: 'tank' }).map((x) => x.id),
    ['2', '1'],
  );
  assert.deepEqual(
    filterActivity(log, { node: 'node-b' }).map((x) => x.id),
    ['2'],
  );
  assert.deepEqual(
    filterActivity(log, { result: 'succeeded', pool: 'tank' }).map((x) => x.id),
    ['1'],
  );
});

test('forms and errors: netmasks, floating IP specs, problem details, the fingerprint a refused join names', () => {
  assert.equal(netmaskPrefix('24'), 24);
  assert.equal(netmaskPrefix('255.255.255.0'), 24);
  assert.equal(netmaskPrefix('255.255.255.255'), 32);
  assert.equal(netmaskPrefix('255.0.255.0'), null);
  assert.equal(netmaskPrefix('abc'), null);
  assert.equal(vipSpec('cli0', '10.77.3.80', '255.255.255.0'), 'cli0:10.77.3.80/24');
  assert.equal(vipSpec('', '10.77.3.80', '24'), null);
  assert.equal(problemText({ title: 'POOL_NOT_FOUND', detail: 'pool x is not under cluster control', traceId: 'abc' }), 'pool x is not under cluster control [POOL_NOT_FOUND, trace abc]');
  assert.equal(problemText({ title: 'INVALID_ARGUMENT', detail: 'must be an address', field: 'peer' }), 'must be an address (peer) [INVALID_ARGUMENT]');
  const fp = Array.from({ length: 32 }, () => 'AB').join(':');
  assert.equal(presentedFingerprint(`the peer presented API certificate SHA-256 ${fp}: give --peer-fingerprint`), fp);
  assert.equal(presentedFingerprint('wrong password'), null);
});

test('a refresh that read the pools before an event came keeps the newer record the event brought', () => {
  const moving = pool('tank', { state: 'in-transition', operation: 'move to node-b', updatedAt: '2026-01-01T00:00:01.000Z' });
  const moved = pool('tank', { node: 'node-b', epoch: 2, updatedAt: '2026-01-01T00:00:02.000Z' });
  assert.deepEqual(mergePools([moved], [moving]), [moved]);
  assert.deepEqual(mergePools([moving], [moved]), [moved]);
  assert.deepEqual(mergePools([moved, pool('gone')], [moved]), [moved], 'a pool the read no longer has is gone');
  assert.deepEqual(mergePools([], [moving]), [moving]);
});
