import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HaPool } from '@tandem/contracts';
import type { HostClient } from '@tandem/messaging';
import { PoolActions } from './pool-actions.service';
import type { ChapStore } from './chap.store';
import type { ClusterStore } from './cluster.store';

/*
 * PoolActions on its seam: a host side that records each request and answers an import as a
 * host-executor does (where it found the disks, the root's mountpoint).
 */
function fixture(answer: Record<string, unknown> = { devices: ['/jbod/tank-0'], mountpoint: '/mnt/tank' }) {
  const calls: Array<[string, string, Record<string, unknown>]> = [];
  const host = {
    call: async (node: string, op: string, req: Record<string, unknown>) => {
      calls.push([node, op, req]);
      if (op === 'pool.import') return { changed: true, pool: { name: req.pool }, ...answer };
      if (op === 'dataset.list') return [{ name: req.root, mountpoint: '/asked/tank' }];
      return { changed: true };
    },
  } as unknown as HostClient;
  return { actions: new PoolActions(host, {} as ClusterStore, {} as ChapStore), calls };
}

const pool = (over: Partial<HaPool> = {}): HaPool => ({
  name: 'tank',
  state: 'in-transition',
  node: 'node-a',
  operation: 'failover',
  reason: null,
  vips: [],
  shares: [],
  fc: false,
  epoch: 4,
  mountpoint: null,
  updatedAt: '',
  ...over,
});
const importStep = (node: string) => ({ kind: 'pool.import' as const, node, epoch: 5, force: true });

test("a shared pool's import names the disks its record holds; what the import tells is the record's next devices and saves asking the mountpoint", async () => {
  const f = fixture();
  await f.actions.run(pool({ devices: ['/jbod/old-0'] }), [importStep('node-b')], null);
  assert.deepEqual(f.calls, [['node-b', 'pool.import', { pool: 'tank', epoch: 5, force: true, role: 'serve', devices: ['/jbod/old-0'] }]]);
  assert.deepEqual(f.actions.devicesOf(pool({ devices: ['/jbod/old-0'] }), 'node-b'), { devices: ['/jbod/tank-0'] });
  assert.equal(await f.actions.mountpoint('tank', 'node-b'), '/mnt/tank');
  assert.equal(f.calls.length, 1, 'no dataset.list asked');
  // another node than the one that imported: its record's devices, and the mountpoint is asked
  assert.deepEqual(f.actions.devicesOf(pool({ devices: ['/jbod/old-0'] }), 'node-c'), { devices: ['/jbod/old-0'] });
  assert.equal(await f.actions.mountpoint('tank', 'node-c'), '/asked/tank');
});

test('a record without devices imports with a scan (no devices named); a replicated pool never names them (each copy is its node’s own)', async () => {
  const f = fixture();
  await f.actions.run(pool(), [importStep('node-b')], null);
  await f.actions.run(pool({ mode: 'replicated', devices: ['/local/tank-0'] }), [importStep('node-b')], null);
  assert.deepEqual(
    f.calls.map(([, , req]) => 'devices' in req),
    [false, false],
  );
  assert.deepEqual(f.actions.devicesOf(pool({ mode: 'replicated' }), 'node-b'), {});
});

test('an import that did not tell (the pool was imported already): the record keeps what it had, and the mountpoint is asked', async () => {
  const f = fixture({});
  await f.actions.run(pool({ devices: ['/jbod/old-0'] }), [importStep('node-b')], null);
  assert.deepEqual(f.actions.devicesOf(pool({ devices: ['/jbod/old-0'] }), 'node-b'), { devices: ['/jbod/old-0'] });
  assert.equal(await f.actions.mountpoint('tank', 'node-b'), '/asked/tank');
});
