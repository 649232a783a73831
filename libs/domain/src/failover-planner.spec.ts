import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HaPool } from '@tandem/contracts';
import { poolRecord } from './spec-fixtures';
import { planFailover, type FailoverInput, type NodeView } from './failover-planner';

const pool = (name: string, node: string, state: HaPool['state'] = 'serving') => poolRecord(name, node, { state });
const node = (id: string, over: Partial<NodeView> = {}): NodeView => ({ id, online: true, liveness: 'up', clientLinkUp: true, faultedPools: [], ...over });
const base = (over: Partial<FailoverInput>): FailoverInput => ({
  now: 100_000,
  maintenance: false,
  quorum: true,
  nodes: [node('a'), node('b'), node('c')],
  pools: [],
  failedOn: {},
  lastAutoMove: {},
  holdDownMs: 60_000,
  ...over,
});

test('a down owner: its pools go to the least loaded healthy node, forced', () => {
  const p = planFailover(base({ nodes: [node('a', { liveness: 'down' }), node('b'), node('c')], pools: [pool('t1', 'a'), pool('t2', 'a'), pool('x', 'b')] }));
  assert.equal(p.declined, null);
  assert.deepEqual(
    p.decisions.map((d) => [d.pool, d.action, 'to' in d ? d.to : null, 'force' in d ? d.force : null]),
    [
      ['t1', 'failover', 'c', true],
      ['t2', 'failover', 'b', true],
    ],
  );
});

test('a suspect owner (one channel silent) is alive: nothing moves, an alarm is raised', () => {
  const p = planFailover(base({ nodes: [node('a', { liveness: 'suspect' }), node('b')], pools: [pool('t1', 'a')] }));
  assert.deepEqual(p.decisions, []);
  assert.equal(p.alarms.length, 1);
  assert.match(p.alarms[0], /node a is suspect/);
});

test('maintenance mode and lost quorum decline every move, saying why', () => {
  const down = { nodes: [node('a', { liveness: 'down' }), node('b')], pools: [pool('t1', 'a')] };
  assert.match(planFailover(base({ ...down, maintenance: true })).declined ?? '', /maintenance/);
  assert.match(planFailover(base({ ...down, quorum: false })).declined ?? '', /no quorum/);
  assert.equal(planFailover(base({ nodes: [node('a'), node('b')], pools: [pool('t1', 'a')], maintenance: true })).declined, null, 'nothing to decline when nothing is wrong');
});

test('client link down or a faulted pool on a live owner: a planned (unforced) move to a node whose client link is up', () => {
  const p = planFailover(base({ nodes: [node('a', { clientLinkUp: false }), node('b', { clientLinkUp: false }), node('c')], pools: [pool('t1', 'a')] }));
  assert.deepEqual(p.decisions, [{ pool: 't1', action: 'failover', from: 'a', to: 'c', reason: 'client-link-down', force: false }]);
  const f = planFailover(base({ nodes: [node('a', { faultedPools: ['t1'] }), node('b')], pools: [pool('t1', 'a'), pool('t2', 'a')] }));
  assert.deepEqual(
    f.decisions.map((d) => [d.pool, d.reason]),
    [['t1', 'pool-faulted']],
  );
});

test('a pool never goes back by itself to a node it failed on; failed everywhere means inactive', () => {
  const p = planFailover(base({ nodes: [node('a', { liveness: 'down' }), node('b'), node('c')], pools: [pool('t1', 'a')], failedOn: { t1: ['b'] } }));
  assert.equal(p.decisions[0].action === 'failover' && p.decisions[0].to, 'c');
  const q = planFailover(base({ nodes: [node('a', { liveness: 'down' }), node('b'), node('c')], pools: [pool('t1', 'a')], failedOn: { t1: ['b', 'c'] } }));
  assert.equal(q.decisions[0].action, 'inactive');
});

test('hold-down: no ping-pong on a flapping client link; a dead owner or a faulted pool is always left', () => {
  const recent = { lastAutoMove: { t1: 90_000 } };
  const link = planFailover(base({ ...recent, nodes: [node('a', { clientLinkUp: false }), node('b')], pools: [pool('t1', 'a')] }));
  assert.equal(link.decisions[0].action, 'hold');
  const dead = planFailover(base({ ...recent, nodes: [node('a', { liveness: 'down' }), node('b')], pools: [pool('t1', 'a')] }));
  assert.equal(dead.decisions[0].action, 'failover');
  // the pool cannot serve where it is; it never comes back there by itself (failed-on)
  const faulted = planFailover(base({ ...recent, nodes: [node('a', { faultedPools: ['t1'] }), node('b')], pools: [pool('t1', 'a')] }));
  assert.deepEqual(
    faulted.decisions.map((d) => [d.action, d.reason, 'force' in d ? d.force : null]),
    [['failover', 'pool-faulted', false]],
  );
  const held = planFailover(base({ nodes: [node('a', { liveness: 'down' }), node('b')], pools: [pool('t1', 'a')], lastAutoMove: { t1: 99_000 } }));
  assert.equal(held.decisions[0].action, 'failover');
});

test('offline or down nodes are never targets; pools not serving are left alone', () => {
  const p = planFailover(base({ nodes: [node('a', { liveness: 'down' }), node('b', { online: false }), node('c', { liveness: 'down' })], pools: [pool('t1', 'a'), pool('t2', 'a', 'inactive')] }));
  assert.deepEqual(
    p.decisions.map((d) => [d.pool, d.action]),
    [['t1', 'inactive']],
  );
});

test('a pool lost on its owner (not imported there though recorded serving) moves like a faulted one, hold-down or not', () => {
  const p = planFailover(base({ nodes: [node('a', { lostPools: ['t1'] }), node('b')], pools: [pool('t1', 'a'), pool('t2', 'a')], lastAutoMove: { t1: 99_000 } }));
  assert.deepEqual(
    p.decisions.map((d) => [d.pool, d.action, d.reason, 'to' in d ? d.to : null]),
    [['t1', 'failover', 'pool-lost', 'b']],
  );
  const m = planFailover(base({ maintenance: true, nodes: [node('a', { lostPools: ['t1'] }), node('b')], pools: [pool('t1', 'a')] }));
  assert.equal(m.decisions.length, 0);
  assert.match(m.declined ?? '', /maintenance/);
});
