import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import type { NatsConnection } from 'nats';
import { ErrorCode, type ReplicationPoolStatus, type RmOperation, type RmOpRequest } from '@tandem/contracts';
import { HostClient, ResourceManagerClient, retryWhileUnavailable } from '@tandem/messaging';
import { Testbed, type TestbedStatus, observerConnection } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { logsIfItFails, printNodeLogsOnFailure } from '../support/failure-logs';
import { sinceNow, writeThroughShare } from '../support/services';

/**
 * A replicated pool on three nodes: one active, two passives, each pulling from the active on its
 * own. A file written through the floating IP reaches both; a planned move to one passive leaves
 * the two others (the old active among them) pulling from the new active.
 */
describe('shared-nothing replication on three nodes (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const POOL = 'trio';
  const VIP = '10.77.3.82';
  const NODES = ['node-a', 'node-b', 'node-c'] as const;
  let status: TestbedStatus;
  printNodeLogsOnFailure(() => tb.root, [...NODES]);
  let nc: NatsConnection;
  let files = 0;
  const sums = new Map<string, string>();

  const rm = <O extends RmOperation>(op: O, req: RmOpRequest<O>, waitForMs = 60_000) =>
    retryWhileUnavailable(() => new ResourceManagerClient(nc).call(op, req, 120_000), { waitForMs, codes: [ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.NotLeader] });
  const repl = async (): Promise<ReplicationPoolStatus> => (await rm('replication.status', { pool: POOL }))[0];
  const mountpoint = () => join(dirname(status.jbod), 'mnt-replicated', POOL);

  async function write(): Promise<void> {
    const name = `t${++files}.bin`;
    sums.set(name, await writeThroughShare(tb, VIP, 'files', name, 32768));
  }

  /** Every passive holds a snapshot of the active taken after `since`, by GUID. */
  async function everyPassiveAfter(since: number): Promise<void> {
    await waitFor(
      async () => {
        const s = await repl();
        const replicas = Object.entries(s.replication?.replicas ?? {});
        const late = replicas.filter(([, r]) => !r.newestCommon || Date.parse(r.newestCommon.createdAt) < since);
        if (replicas.length !== NODES.length - 1 || late.length > 0) throw new Error(JSON.stringify(s.replication?.replicas ?? null));
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: `both passives holding a snapshot taken after ${new Date(since).toISOString()}` },
    );
  }

  /** `node`'s own copy holds every file written so far, with the same checksum. */
  async function copyHoldsAll(node: string): Promise<void> {
    // a passive's copy is never mounted: read it from its newest snapshot through a clone
    const snap = (await tb.exec(node, ['sh', '-c', `zfs list -H -r -t snapshot -o name -s creation ${POOL}/files | grep "^${POOL}/files@tandem-2" | tail -1`])).stdout.trim();
    assert.ok(snap, `${node} holds a Tandem snapshot of ${POOL}/files`);
    const clone = `${POOL}/check-${node}`;
    await tb.exec(node, ['sh', '-c', `zfs destroy -r ${clone} 2>/dev/null; true`]);
    await tb.exec(node, ['zfs', 'clone', '-o', `mountpoint=${mountpoint()}-check`, '-o', 'readonly=on', snap, clone]);
    try {
      for (const [name, sum] of sums) {
        const r = await tb.exec(node, ['sha256sum', `${mountpoint()}-check/${name}`]);
        assert.equal(r.stdout.split(' ')[0], sum, `${node}: ${name} as written`);
      }
    } finally {
      await tb.exec(node, ['zfs', 'destroy', '-r', clone]);
    }
  }

  /** A file written now reaches `passives` (the active's only replicas), and every copy holds every file. */
  async function writtenAndFollowedBy(passives: string[]): Promise<void> {
    await write();
    const t0 = sinceNow();
    await everyPassiveAfter(t0);
    assert.deepEqual(Object.keys((await repl()).replication?.replicas ?? {}).sort(), passives);
    for (const n of passives) await copyHoldsAll(n);
  }

  before(() =>
    logsIfItFails(
      () => tb.root,
      [...NODES],
      async () => {
        status = await tb.up({ nodes: 3 });
        nc = await observerConnection(status);
        const host = new HostClient(nc);
        for (const n of NODES) await waitFor(() => host.call(n, 'ssh.keys', {}, 2_000), { timeoutMs: 60_000, intervalMs: 500, what: `${n}'s host-executor giving its replication keys` });
        await rm('cluster.create', { node: 'node-a', heartbeatInterface: 'hb0' });
        for (const n of ['node-b', 'node-c'] as const) await rm('cluster.join', { node: n });
        await rm('replication.settings', { snapshotInterval: '4s', pullInterval: '2s', retention: 4 });
        for (const n of NODES) await host.call(n, 'pool.create', { pool: POOL, vdevs: [`${POOL}-0`], sizeMiB: 256, disks: 'local', mountpoint: mountpoint() });
        await host.call('node-a', 'dataset.create', { dataset: `${POOL}/files`, mode: '1777' });
      },
    ),
  );

  after(async () => {
    await nc?.close().catch(() => undefined);
    if (process.env.TANDEM_E2E_KEEP !== '1') await tb.down();
  });

  test('attached on node-a, both other nodes bootstrap and then follow it', async () => {
    const attached = await rm('pool.attach', { pool: POOL, node: 'node-a', replicated: true, vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files', guest: true }] });
    assert.deepEqual([attached.mode, attached.node], ['replicated', 'node-a']);
    await writtenAndFollowedBy(['node-b', 'node-c']);
  });

  test('moved to node-c: node-a and node-b follow the new active, every file on every copy', async () => {
    await write();
    const moved = await rm('pool.move', { pool: POOL, to: 'node-c' });
    assert.deepEqual([moved.state, moved.node], ['serving', 'node-c']);
    await writtenAndFollowedBy(['node-a', 'node-b']);
  });
});
