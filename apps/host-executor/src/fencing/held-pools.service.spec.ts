import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateFileError, readBaseConfig } from '@tandem/config';
import type { HaPool, PoolSummary } from '@tandem/contracts';
import { HeldPools } from './held-pools.service';

/* What a node's fence would stop, kept across restarts of its host-executor: HeldPools on a fake ZFS. */
const summary = (name: string): PoolSummary => ({ name, guid: '1', health: 'ONLINE', sizeBytes: 1, allocatedBytes: 0, freeBytes: 1 });
const record = (name: string, node: string, over: Partial<HaPool> = {}): HaPool => ({
  name,
  state: 'serving',
  node,
  operation: null,
  reason: null,
  vips: [{ interface: 'cli0', address: '10.77.3.50', prefix: 24 }],
  shares: [],
  fc: false,
  epoch: 2,
  mountpoint: null,
  updatedAt: '',
  ...over,
});

function node(stateDir = mkdtempSync(join(tmpdir(), 'held-'))) {
  const imported: PoolSummary[] = [];
  const config = readBaseConfig({ TANDEM_NODE_ID: 'node-a', TANDEM_NATS_URL: 'nats://127.0.0.1:4222', TANDEM_STATE_DIR: stateDir });
  const zfs = { listPools: async () => imported, findPool: async (n: string) => imported.find((p) => p.name === n) };
  // the NATS connection is only used to follow the pool records, which these tests feed by hand
  return { held: new HeldPools({ config, nc: undefined as never }, zfs), imported, stateDir };
}

test('a pool is held from its import, with the IPs brought up for it, until it is exported', () => {
  const { held } = node();
  held.imported('tank', 2);
  held.ipAdded('tank', 2, { interface: 'cli0', address: '10.77.3.50', prefix: 24 });
  held.ipAdded('tank', 1, { interface: 'cli0', address: '10.77.3.99', prefix: 24 }); // an older epoch adds nothing
  assert.deepEqual(held.entries(), [['tank', { epoch: 2, vips: [{ interface: 'cli0', address: '10.77.3.50', prefix: 24 }] }]]);
  held.exported('tank');
  assert.deepEqual(held.names(), []);
});

test('a record naming this node holds a pool only when it is imported here; a record naming another node lets go only once it is exported here', async () => {
  const { held, imported } = node();
  await held.recordChanged('tank', record('tank', 'node-a'));
  assert.deepEqual(held.names(), [], 'a record of a pool this node lost in a reboot is not a pool to fence');
  imported.push(summary('tank'));
  await held.recordChanged('tank', record('tank', 'node-a'));
  assert.deepEqual(
    held.entries()[0][1].vips.map((v) => v.address),
    ['10.77.3.50'],
    'the record completes the floating IPs',
  );
  await held.recordChanged('tank', record('tank', 'node-b', { epoch: 3 }));
  assert.deepEqual(held.names(), ['tank'], 'still imported here (an export that failed): still fenced by this node');
  imported.length = 0;
  await held.recordChanged('tank', null);
  assert.deepEqual(held.names(), []);
});

test('kept on disk: a restarted host-executor keeps what is still imported, a rebooted node forgets what is not', async () => {
  const first = node();
  first.imported.push(summary('tank'), summary('other'));
  first.held.imported('tank', 5);
  first.held.imported('other', 1);
  const restarted = node(first.stateDir);
  restarted.imported.push(summary('tank'));
  assert.equal(restarted.held.reconciled, false, 'not checked against ZFS yet: the fence waits');
  await restarted.held.forgetWhatIsNotImported();
  assert.equal(restarted.held.reconciled, true);
  assert.deepEqual(restarted.held.entries(), [['tank', { epoch: 5, vips: [] }]]);
});

test('a replicated pool served elsewhere is let go at once: this node keeps only a replica, never served', async () => {
  const { held, imported } = node();
  imported.push(summary('mirror'));
  await held.recordChanged('mirror', record('mirror', 'node-a', { mode: 'replicated' }));
  assert.deepEqual(held.names(), ['mirror']);
  await held.recordChanged('mirror', record('mirror', 'node-b', { mode: 'replicated', epoch: 3 }));
  assert.deepEqual(held.names(), [], 'still imported here as a replica, but not served: nothing to fence');
});

test('a record older than this node’s own import is ignored: a failover to this node stays fenced here whatever order the records arrive in', async () => {
  const { held, imported } = node();
  imported.push(summary('mirror'));
  // the failover imported the pool here under epoch 4 before the record saying so arrived
  held.imported('mirror', 4);
  // the record written before that import (the pool in transition, still naming the old owner at epoch 3) arrives late
  await held.recordChanged('mirror', record('mirror', 'node-b', { mode: 'replicated', epoch: 3 }));
  assert.deepEqual(held.entries(), [['mirror', { epoch: 4, vips: [] }]], 'still held at its own epoch');
  await held.recordChanged('mirror', record('mirror', 'node-b', { epoch: 3 }));
  assert.deepEqual(held.names(), ['mirror'], 'the same for a shared pool');
  // the next move away is newer than the import: let go
  await held.recordChanged('mirror', record('mirror', 'node-b', { mode: 'replicated', epoch: 5 }));
  assert.deepEqual(held.names(), []);
});

test('a list on disk that cannot be read stops the start (an empty list would leave an imported pool unfenced); it is left as it was', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'held-'));
  mkdirSync(join(stateDir, 'ownership'));
  const file = join(stateDir, 'ownership', 'held.json');
  writeFileSync(file, '{"tank": {"epoch": 5, "vi');
  assert.throws(
    () => node(stateDir),
    (err: unknown) => err instanceof StateFileError && err.file === file && /the list of pools this node runs .* cannot be used \(it is not JSON\)/.test(err.message),
  );
  assert.equal(readFileSync(file, 'utf8'), '{"tank": {"epoch": 5, "vi');
});
