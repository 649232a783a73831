import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError, type HaPool } from '@tandem/contracts';
import { begin, bringDownSteps, bringUpSteps, checkMove, checkReattach, checkVipsFree, checkVipsOffClusterNetworks, inactive, newPool, releaseSteps, serving } from './ha-pool';

const now = new Date('2026-01-01T00:00:00Z');
const vip = { interface: 'cli0', address: '10.0.0.50', prefix: 24 };
const share = { name: 'files', protocol: 'smb' as const, path: 'files', readOnly: false, clients: [], rootSquash: true, users: [], guest: true };
const nodes = ['node-a', 'node-b'];

function code(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as TandemError).code;
  }
  return undefined;
}

test('a pool in transition refuses every other operation', () => {
  const p = serving(newPool('tank', [vip], [share], false, now), 'node-a', 1, '/tank', now);
  const moving = begin(p, 'move', now);
  assert.equal(moving.state, 'in-transition');
  assert.equal(
    code(() => begin(moving, 'export', now)),
    ErrorCode.InTransition,
  );
  assert.equal(
    code(() => checkMove(moving, 'node-b', nodes)),
    ErrorCode.InTransition,
  );
  assert.equal(
    code(() => checkReattach(moving, 'node-b', nodes)),
    ErrorCode.InTransition,
  );
});

test('move rules: known target, serving pool, another node', () => {
  const p = serving(newPool('tank', [vip], [], false, now), 'node-a', 1, '/tank', now);
  assert.equal(
    code(() => checkMove(p, 'node-z', nodes)),
    ErrorCode.UnknownNode,
  );
  assert.equal(
    code(() => checkMove(p, 'node-a', nodes)),
    ErrorCode.InvalidArgument,
  );
  assert.equal(
    code(() => checkMove(inactive(p, 'x', now), 'node-b', nodes)),
    ErrorCode.InvalidArgument,
  );
  assert.equal(
    code(() => checkMove(p, 'node-b', nodes)),
    undefined,
  );
});

test('reattach only an inactive pool', () => {
  const p = serving(newPool('tank', [vip], [], false, now), 'node-a', 1, '/tank', now);
  assert.equal(
    code(() => checkReattach(p, 'node-b', nodes)),
    ErrorCode.InvalidArgument,
  );
  const down = inactive(p, 'import failed', now);
  assert.equal(down.node, null);
  assert.equal(down.reason, 'import failed');
  assert.equal(
    code(() => checkReattach(down, 'node-b', nodes)),
    undefined,
  );
});

test('floating IPs may not be shared between pools or given twice', () => {
  const other: HaPool = newPool('other', [vip], [], false, now);
  assert.equal(
    code(() => checkVipsFree([vip], [other])),
    ErrorCode.AddressInUse,
  );
  assert.equal(
    code(() => checkVipsFree([vip, vip], [])),
    ErrorCode.InvalidArgument,
  );
  assert.equal(
    code(() => checkVipsFree([{ ...vip, address: '10.0.0.51' }], [other])),
    undefined,
  );
});

test("floating IPs stay off the cluster's own networks: not on the heartbeat interface, never a member's heartbeat or replication address", () => {
  const cluster = {
    heartbeatInterface: 'hb0',
    nodes: [
      { id: 'node-a', heartbeatAddress: '10.77.1.11', adminState: 'online' as const, joinedAt: '' },
      { id: 'node-b', heartbeatAddress: '10.77.1.12', adminState: 'online' as const, joinedAt: '' },
    ],
    replication: { sshAddresses: { 'node-b': '10.77.4.12' } },
  };
  const refusal = (v: typeof vip) => {
    try {
      checkVipsOffClusterNetworks([vip, v], cluster);
      return null;
    } catch (err) {
      return [(err as TandemError).code, (err as TandemError).field, (err as TandemError).message];
    }
  };
  assert.deepEqual(refusal({ interface: 'hb0', address: '10.77.1.61', prefix: 24 }), [
    ErrorCode.InvalidArgument,
    'vips',
    "floating IP 10.77.1.61 on hb0: that is the cluster's heartbeat interface; floating IPs go on a client interface",
  ]);
  assert.deepEqual(refusal({ interface: 'cli0', address: '10.77.1.12', prefix: 24 }), [
    ErrorCode.InvalidArgument,
    'vips',
    'floating IP 10.77.1.12 is the heartbeat address of node-b: a floating IP must be an address of its own',
  ]);
  assert.match(String(refusal({ interface: 'cli0', address: '10.77.4.12', prefix: 24 })?.[2]), /is the replication address of node-b/);
  assert.equal(refusal({ interface: 'cli0', address: '10.0.0.51', prefix: 24 }), null);
});

test('down stops shares before IPs before the export; up imports before IPs before shares', () => {
  const p = newPool('tank', [vip, { ...vip, address: '10.0.0.51' }], [share], false, now);
  assert.deepEqual(
    bringDownSteps(p, 'node-a').map((s) => s.kind),
    ['share.stop', 'ip.remove', 'ip.remove', 'pool.export'],
  );
  const up = bringUpSteps(p, 'node-b', 7);
  assert.deepEqual(
    up.map((s) => s.kind),
    ['pool.import', 'ip.add', 'ip.add', 'share.start'],
  );
  assert.ok(up.every((s) => s.node === 'node-b'));
  assert.equal((up[0] as { epoch: number }).epoch, 7);
  assert.equal((up[1] as { epoch: number }).epoch, 7, 'IPs carry the epoch too');
  // an FC pool without LUNs has nothing to export; with LUNs its target goes with it (its node's ALUA port group to standby before the export)
  const fc = newPool('fc', [], [], true, now);
  assert.deepEqual(
    bringDownSteps(fc, 'node-a').map((s) => s.kind),
    ['pool.export'],
  );
  const fcLuns = { ...fc, luns: [{ name: 'db', number: 1, sizeBytes: 1 << 30 }] };
  assert.deepEqual(
    bringDownSteps(fcLuns, 'node-a').map((s) => s.kind),
    ['target.stop', 'pool.export'],
  );
  assert.deepEqual(
    bringUpSteps(fcLuns, 'node-b', 3).map((s) => s.kind),
    ['pool.import', 'target.start'],
  );
  // a move: the old node's ALUA group goes to standby (its target stops) before the new node's becomes active
  const move = [...bringDownSteps(fcLuns, 'node-a'), ...bringUpSteps(fcLuns, 'node-b', 3)].map((s) => `${s.kind}@${s.node}`);
  assert.ok(move.indexOf('target.stop@node-a') < move.indexOf('target.start@node-b'), move.join(' '));
  assert.ok(move.indexOf('target.stop@node-a') >= 0);
  assert.deepEqual(
    releaseSteps(fcLuns, 'node-a', 5_000).map((s) => s.kind),
    ['target.stop', 'pool.export'],
  );
});

test('a pool with LUNs: its target starts after the IPs and shares, stops with the shares (before the IPs on a move, after them in a fence)', () => {
  const p = { ...newPool('tank', [vip], [share], false, now), luns: [{ name: 'vm1', number: 1, sizeBytes: 64 << 20 }] };
  assert.deepEqual(
    bringUpSteps(p, 'node-b', 2).map((s) => s.kind),
    ['pool.import', 'ip.add', 'share.start', 'target.start'],
  );
  assert.deepEqual(
    bringDownSteps(p, 'node-a').map((s) => s.kind),
    ['share.stop', 'target.stop', 'ip.remove', 'pool.export'],
  );
  assert.deepEqual(
    releaseSteps(p, 'node-a', 5_000).map((s) => s.kind),
    ['ip.remove', 'share.stop', 'target.stop', 'pool.export'],
  );
  // without LUNs and FC there is no target to start or stop
  const plain = newPool('tank', [vip], [], false, now);
  assert.ok(!bringUpSteps(plain, 'node-b', 2).some((s) => s.kind === 'target.start'));
  assert.ok(!bringDownSteps(plain, 'node-a').some((s) => s.kind === 'target.stop'));
});
