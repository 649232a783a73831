import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Testbed, clientReadsAgain, createPeerPool, peerBothOnline, peerFenced, peerLocate, peerPhases, sampleDoubleImports, vipOn } from '@tandem/testbed';

/**
 * The peer Tandem's failover bench measures against (`up --pacemaker`): a two-node corosync +
 * Pacemaker cluster on the testbed's storage nodes serves one pool (ZFS, IPaddr2, smbd in a
 * group) on the node it chose, and only there; when that node loses power, the other fences it
 * through the testbed's fence agent and takes the pool, which is never imported on both.
 */
async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    assert.ok(Date.now() - t0 < timeoutMs, `${what} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('the Pacemaker peer on the testbed', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const pool = 'peer';
  const vip = '10.77.3.72';
  const imported = async (node: string) => (await tb.exec(node, ['zpool', 'list', '-H', '-o', 'name'])).stdout.split('\n').includes(pool);
  let owner = '';

  before(async () => {
    await tb.down();
    await tb.up({ nodes: 2, stack: 'pacemaker' });
  });

  after(async () => {
    await tb.down();
  });

  test('refuses to bring Tandem up over it; `up` without a stack repairs the peer', async () => {
    await assert.rejects(tb.up({ nodes: 2, stack: 'tandem' }), /already up with the pacemaker stack/);
    await tb.up({ nodes: 2 });
    await until('both nodes online', () => peerBothOnline(tb, 'node-a'));
  });

  test('serves the pool through its floating IP on the node Pacemaker chose, imported there only', async () => {
    owner = await createPeerPool(tb, { pool, vip, createOn: 'node-a' });
    const peer = owner === 'node-a' ? 'node-b' : 'node-a';
    assert.equal(await peerLocate(tb, pool, peer), owner);
    assert.ok(await vipOn(tb, owner, vip));
    assert.equal(await vipOn(tb, peer, vip), false);
    assert.deepEqual([await imported(owner), await imported(peer)], [true, false]);
  });

  test('a power-off of the owner: the other node fences it, then serves the pool; never imported on both', async () => {
    const survivor = owner === 'node-a' ? 'node-b' : 'node-a';
    const sampler = sampleDoubleImports(tb, pool);
    const faultAt = Date.now();
    const t0 = performance.now();
    await tb.powerOff(owner);
    await clientReadsAgain(tb, vip, t0, 'power-off', () => vipOn(tb, survivor, vip));
    assert.equal(await sampler.stop(), 0);
    assert.ok(await imported(survivor));
    assert.ok(await peerFenced(tb, survivor, owner), `${survivor} records ${owner} fenced`);
    const ph = peerPhases(tb, survivor, pool, owner, faultAt);
    for (const [k, v] of Object.entries(ph)) assert.ok(v !== null && v >= 0, `phase ${k} read from the logs: ${String(v)}`);
    // back on, it rejoins and the pool stays where it is (stickiness)
    await tb.powerOn(owner);
    await until(`${owner} rejoins`, () => peerBothOnline(tb, survivor));
    assert.equal(await peerLocate(tb, pool, survivor), survivor);
    assert.equal(await imported(owner), false);
  });
});
