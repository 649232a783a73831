import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import type { NatsConnection } from 'nats';
import {
  CLUSTER_RECORD,
  CLUSTER_RECORD_ID,
  ErrorCode,
  EVENTS_STREAM,
  Events,
  KEPT_DATASET,
  LEADER_LEASE_RECORD,
  subjectFor,
  REPLICATION_RECORD,
  TandemError,
  type ReplicationPoolStatus,
  type ReplicationState,
  type RmOperation,
  type RmOpRequest,
} from '@tandem/contracts';
import { HostClient, KvRecordStore, ResourceManagerClient, retryWhileUnavailable, waitForStreamLeader } from '@tandem/messaging';
import { Testbed, type TestbedStatus, observerConnection } from '@tandem/testbed';
import { logsIfItFails, printNodeLogsOnFailure } from '../support/failure-logs';
import { waitFor } from '@tandem/util';
import { killService, sinceNow, writeThroughShare } from '../support/services';
import { holdsFor } from '../support/wait';

/**
 * Shared-nothing HA pools on the testbed: each node has its own pool of the same name on its own
 * disks (a directory no peer sees), real zfs, real SSH between the nodes' replication endpoints,
 * short intervals. The client reads and writes through the pool's floating IP and SMB share.
 */
const pick = (o: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));

describe('shared-nothing replication (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const POOL = 'twin';
  const VIP = '10.77.3.81';
  const NODES = ['node-a', 'node-b'] as const;
  // short timers for the test: a snapshot every 4 s, a pull every 2 s
  const SNAPSHOT_S = 4;
  const PULL_S = 2;
  let status: TestbedStatus;
  printNodeLogsOnFailure(() => tb.root, [...NODES]);
  let nc: NatsConnection;
  let host: HostClient;
  let rmc: ResourceManagerClient;
  let states: KvRecordStore<ReplicationState>;
  let files = 0;
  const sums = new Map<string, string>();

  const codes = [ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.NotLeader];
  const rm = <O extends RmOperation>(op: O, req: RmOpRequest<O>, waitForMs = 30_000, timeoutMs = 120_000) => retryWhileUnavailable(() => rmc.call(op, req, timeoutMs), { waitForMs, codes });
  const pool = () => rm('pool.get', { pool: POOL }, 60_000, 5_000);
  const repl = async (): Promise<ReplicationPoolStatus> => (await rm('replication.status', { pool: POOL }, 60_000, 10_000))[0];
  const other = (n: string) => (n === 'node-a' ? 'node-b' : 'node-a');
  // the same mountpoint on every node (each mounts in its own mount namespace)
  const mountpoint = () => join(dirname(status.jbod), 'mnt-replicated', POOL);

  /** A file written through the share on the serving node; its checksum kept to compare later. */
  async function write(): Promise<string> {
    const name = `r${++files}.bin`;
    sums.set(name, await writeThroughShare(tb, VIP, 'files', name, 65536));
    return name;
  }

  /** Every file written so far reads back through the floating IP with the same checksum. */
  async function readAllBack(timeoutMs = 30_000): Promise<void> {
    await tb.client(['sh', '-c', 'rm -rf /tmp/back && mkdir -p /tmp/back']);
    await waitFor(
      async () => {
        const r = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-c', 'prompt off; lcd /tmp/back; mget r*.bin'], { timeoutMs: 10_000 });
        if (r.exitCode !== 0) throw new Error(`smbclient exited ${r.exitCode}: ${r.stderr}`);
        return true;
      },
      { timeoutMs, intervalMs: 250, what: `the client reading through ${VIP}` },
    );
    for (const [name, sum] of sums) assert.equal((await tb.client(['sha256sum', `/tmp/back/${name}`])).stdout.split(' ')[0], sum, `${name}: same checksum`);
  }

  /**
   * Which node serves the pool, asked of each node itself: its floating IP up there, or its data
   * mounted writable there (a retrieval copy is mounted read-only: not served). Exactly one.
   */
  async function servedOn(): Promise<string[]> {
    const out: string[] = [];
    for (const n of NODES) {
      const mounted = (await tb.exec(n, ['zfs', 'get', '-H', '-o', 'value', 'mounted', `${POOL}/files`], { timeoutMs: 10_000 }).catch(() => null))?.stdout.trim() === 'yes';
      // only a mounted dataset is probed: an unmounted one's directory is the root file system's
      const writable = mounted && (await tb.exec(n, ['sh', '-c', `touch ${mountpoint()}/files/.served && rm ${mountpoint()}/files/.served`], { timeoutMs: 10_000 }).catch(() => null))?.exitCode === 0;
      const addrs = await tb.exec(n, ['ip', '-o', 'addr', 'show', 'dev', 'cli0'], { timeoutMs: 10_000 }).catch(() => null);
      const ip = !!addrs?.stdout.includes(` ${VIP}/`);
      if (writable || ip) out.push(`${n}${writable ? '' : ' (IP only)'}${ip ? '' : ' (writable, no IP)'}`);
    }
    return out;
  }

  async function assertServedOnlyOn(node: string): Promise<void> {
    assert.deepEqual(await servedOn(), [node], `${POOL} served (mounted, IP up) on exactly ${node}`);
  }

  /** The newest snapshot on `node` (short name), by its own zfs. */
  async function snapshotsOn(node: string): Promise<Array<{ name: string; guid: string }>> {
    const r = await tb.exec(node, ['zfs', 'get', '-H', '-p', '-r', '-o', 'name,value', 'guid', POOL], { timeoutMs: 10_000 });
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith(`${POOL}@`))
      .map((l) => {
        const [name, guid] = l.split('\t');
        return { name: name.split('@')[1], guid };
      });
  }

  /** Wait until `node` holds, with the same GUID, a snapshot the active took after `since` (ms). */
  async function replicatedAfter(node: string, since: number, timeoutMs: number): Promise<string> {
    return waitFor(
      async () => {
        const s = await repl();
        const common = s.replication?.replicas[node]?.newestCommon;
        if (!common || Date.parse(common.createdAt) < since) throw new Error(`${node}: ${JSON.stringify(s.replication?.replicas[node] ?? null)}`);
        return common.name;
      },
      { timeoutMs, intervalMs: 500, what: `${node} holding a snapshot taken after ${new Date(since).toISOString()}` },
    );
  }

  before(() =>
    logsIfItFails(
      () => tb.root,
      [...NODES],
      async () => {
        status = await tb.up({ nodes: 2 });
        nc = await observerConnection(status);
        host = new HostClient(nc);
        rmc = new ResourceManagerClient(nc);
        states = new KvRecordStore(nc, REPLICATION_RECORD);
        // joining asks each node's host-executor for its replication keys: both answer first
        for (const n of NODES) await waitFor(() => host.call(n, 'ssh.keys', {}, 2_000), { timeoutMs: 60_000, intervalMs: 500, what: `${n}'s host-executor giving its replication keys` });
        await rm('cluster.create', { node: 'node-a', heartbeatInterface: 'hb0' }, 60_000);
        await rm('cluster.join', { node: 'node-b' }, 60_000);
        await tb.client(['mkdir', '-p', '/tmp/back']);
      },
    ),
  );

  after(async () => {
    await nc?.close().catch(() => undefined);
    if (process.env.TANDEM_E2E_KEEP !== '1') await tb.down();
  });

  test('the settings: the defaults of the reference, refused values named, a new snapshot interval at the next firing', async () => {
    const d = await rm('replication.settings', {});
    assert.deepEqual(d.schedule, { snapshotIntervalS: 900, retention: 24, pullIntervalS: 180, stallTimeoutS: 60 });
    assert.equal(d.rollbackWindowS, 900 * 24);
    await assert.rejects(rmc.call('replication.settings', { retention: 0 }, 10_000), (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InvalidArgument && e.field === 'retention');
    await assert.rejects(rmc.call('replication.settings', { snapshotInterval: '15' }, 10_000), (e: unknown) => e instanceof TandemError && e.field === 'snapshotInterval');
    const warned = await rm('replication.settings', { snapshotInterval: `${SNAPSHOT_S}s`, pullInterval: '10s', retention: 3 });
    assert.match(warned.warnings.join(), /pull interval \(10s\) is longer than the snapshot interval \(4s\)/);
    const set = await rm('replication.settings', { pullInterval: `${PULL_S}s` });
    assert.deepEqual(set.schedule, { snapshotIntervalS: SNAPSHOT_S, retention: 3, pullIntervalS: PULL_S, stallTimeoutS: 60 });
    assert.deepEqual(set.warnings, []);
  });

  test('attach is refused, naming the node, while a node lacks a pool of that name', async () => {
    await host.call('node-a', 'pool.create', { pool: POOL, vdevs: [`${POOL}-0`], sizeMiB: 256, disks: 'local', mountpoint: mountpoint() });
    await host.call('node-a', 'dataset.create', { dataset: `${POOL}/files`, mode: '1777' });
    await assert.rejects(
      rm('pool.attach', { pool: POOL, node: 'node-a', replicated: true, vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files', guest: true }] }),
      (e: unknown) => e instanceof TandemError && e.code === ErrorCode.PoolNotImportable && /node-b has none/.test(e.message),
    );
    assert.equal((await rm('pool.list', {})).length, 0, 'nothing attached');
  });

  test('attach with copies of unequal sizes: a warning; the bootstrap brings the passive in sync by itself', async () => {
    await host.call('node-b', 'pool.create', { pool: POOL, vdevs: [`${POOL}-0`], sizeMiB: 128, disks: 'local', mountpoint: mountpoint() });
    const attached = await rm('pool.attach', { pool: POOL, node: 'node-a', replicated: true, vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files', guest: true }] });
    assert.deepEqual([attached.mode, attached.state, attached.node], ['replicated', 'serving', 'node-a']);
    assert.match((attached.warnings ?? []).join(), /differ in size by more than 10 %/);
    await write();
    const t0 = sinceNow();
    await replicatedAfter('node-b', t0, 60_000);
    // the first transfer was the bootstrap, announced as such (later ones are incremental)
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    const boot = await jsm.streams.getMessage(EVENTS_STREAM.name, { last_by_subj: subjectFor(Events.replicationBootstrapStarted, POOL) });
    assert.deepEqual(pick(JSON.parse(new TextDecoder().decode(boot.data)).data, ['from', 'to']), { from: 'node-a', to: 'node-b' });
    await assertServedOnlyOn('node-a');
    // node-b's copy: imported, never mounted, read-only
    const props = await tb.exec('node-b', ['zfs', 'get', '-H', '-o', 'value', 'readonly,mounted', POOL]);
    assert.deepEqual(props.stdout.trim().split('\n'), ['on', 'no']);
  });

  test('files written on the active reach the passive within a pull interval of the next snapshot, by GUID, with progress events; expiry on both sides', async () => {
    // every transfer tells its progress (bytes so far), on the pool's own subject
    const progress: Array<{ from: string; to: string; dataset: string; bytes: number }> = [];
    const sub = nc.subscribe(subjectFor(Events.replicationProgress, POOL), {
      callback: (_err, msg) => {
        const env = JSON.parse(new TextDecoder().decode(msg.data)) as { schema: string; data: unknown };
        if (env.schema === Events.replicationProgress.schema) progress.push(Events.replicationProgress.data.parse(env.data));
      },
    });
    await write();
    const t0 = sinceNow();
    await replicatedAfter('node-b', t0, (SNAPSHOT_S + PULL_S) * 1000 + 20_000);
    sub.unsubscribe();
    assert.ok(
      progress.some((p) => p.from === 'node-a' && p.to === 'node-b' && p.dataset === `${POOL}/files` && p.bytes > 0),
      `a progress event of ${POOL}/files from node-a to node-b: ${JSON.stringify(progress.slice(0, 3))}`,
    );
    const s = await repl();
    assert.equal(s.replication?.replicas['node-b']?.lastTransfer?.kind, 'incremental');
    // retention 3: after a few more snapshots neither side holds more than 3 of Tandem's (+ the held base)
    await waitFor(
      async () => {
        const a = (await snapshotsOn('node-a')).filter((x) => x.name.startsWith('tandem-2'));
        const b = (await snapshotsOn('node-b')).filter((x) => x.name.startsWith('tandem-2'));
        return a.length <= 4 && b.every((x) => a.some((y) => y.guid === x.guid)) && b.length >= 1;
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: 'retention 3 on the active, and the passive expiring what the active no longer has' },
    );
  });

  test('retention 1: the incremental base is never destroyed, the passive stays incremental', async () => {
    await rm('replication.settings', { pool: POOL, retention: 1 });
    const t0 = Date.now();
    // several snapshot periods: each one expires all but the newest, except the held base
    await write();
    await replicatedAfter('node-b', t0 + 3 * SNAPSHOT_S * 1000, 90_000);
    const s = await repl();
    assert.equal(s.replication?.replicas['node-b']?.lastTransfer?.kind, 'incremental', 'no full resync was needed');
    await rm('replication.settings', { pool: POOL, retention: 3 });
  });

  test('planned move: a final sync, nothing lost, replication reversed', async () => {
    await write();
    const moved = await rm('pool.move', { pool: POOL, to: 'node-b' });
    assert.deepEqual([moved.state, moved.node], ['serving', 'node-b']);
    assert.ok(moved.finalSync && moved.finalSync.bytes > 0, `the final sync's size: ${JSON.stringify(moved.finalSync)}`);
    await readAllBack();
    await assertServedOnlyOn('node-b');
    await write();
    const t0 = sinceNow();
    await replicatedAfter('node-a', t0, 60_000);
    assert.equal((await repl()).direction, 'node-b → node-a');
  });

  test('the owner powered off: the passive serves its copy, sync is locked; the returning node keeps its copy for retrieval; resume reverses and resumes', async () => {
    const owner = (await pool()).node!;
    const peer = other(owner);
    await write();
    await replicatedAfter(peer, Date.now() - 500, 60_000);
    await waitForStreamLeader(nc, 'witness', 60_000);
    await tb.powerOff(owner);
    try {
      await readAllBack(30_000);
      await waitFor(async () => (await pool()).node === peer, { timeoutMs: 30_000, intervalMs: 500, what: `${POOL} served on ${peer}` });
      const s = await repl();
      assert.equal(s.state, 'locked');
      assert.equal(s.message, `Failover occurred. Sync for ${POOL} is locked!`);
      assert.ok(s.possiblyMissingS !== null && s.possiblyMissingS >= 0);
      const status = await rm('cluster.status', {});
      assert.ok((status.failover?.alarms ?? []).includes(`Failover occurred. Sync for ${POOL} is locked!`), 'cluster status carries the lock');
    } finally {
      await tb.powerOn(owner);
    }
    // the returning node: its copy imported for retrieval (mounted read-only), never shared, never overwritten while locked
    await waitFor(async () => (await tb.exec(owner, ['zfs', 'get', '-H', '-o', 'value', 'readonly,mounted', POOL], { timeoutMs: 5_000 })).stdout.trim() === 'on\nyes', {
      timeoutMs: 90_000,
      intervalMs: 1_000,
      what: `${owner}'s copy imported read-only for retrieval`,
    });
    const before = await snapshotsOn(owner);
    // nothing replicates while locked: two pull intervals and a snapshot interval pass
    await holdsFor(
      2 * (SNAPSHOT_S + PULL_S) * 1000,
      async () => {
        assert.deepEqual(await snapshotsOn(owner), before, `${owner}'s copy unchanged`);
        assert.equal((await repl()).state, 'locked');
      },
      'nothing replicates while sync is locked',
    );
    await assertServedOnlyOn(peer);
    const resumed = await rm('replication.resume', { pool: POOL });
    assert.notEqual(resumed.state, 'locked');
    await write();
    const t0 = sinceNow();
    await replicatedAfter(owner, t0, 90_000);
    // the old node's own data was kept aside, not destroyed
    const kept = await tb.exec(owner, ['zfs', 'list', '-H', '-o', 'name', '-r', `${POOL}/${KEPT_DATASET}`]);
    assert.match(kept.stdout, new RegExp(`${POOL}/${KEPT_DATASET}/kept-`), 'the diverged copy is kept aside');
    assert.equal((await repl()).direction, `${peer} → ${owner}`);
    await rm('pool.mark-usable', { pool: POOL, node: owner });
  });

  test('a passive away past the rollback window: a full resync by itself when it returns, its old copy kept aside', async () => {
    const owner = (await pool()).node!;
    const passive = other(owner);
    // window: 2 snapshots × 4 s; the passive stays away for more than that
    await rm('replication.settings', { pool: POOL, retention: 2 });
    await tb.powerOff(passive);
    const away = Date.now();
    try {
      await write();
      await waitFor(
        async () => {
          const common = (await states.get(POOL))?.value.replicas[passive]?.newestCommon?.name;
          const onActive = await host.call(owner, 'snapshot.list', { dataset: POOL }, 5_000);
          return Date.now() - away > 4 * SNAPSHOT_S * 1000 && !!common && !onActive.some((s) => s.snapshot === common);
        },
        { timeoutMs: 120_000, intervalMs: 1_000, what: `the active expired ${passive}'s last common snapshot` },
      );
    } finally {
      await tb.powerOn(passive);
    }
    const t0 = Date.now();
    await replicatedAfter(passive, t0, 120_000);
    // announced as a full resync, after it came back
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    const boot = JSON.parse(new TextDecoder().decode((await jsm.streams.getMessage(EVENTS_STREAM.name, { last_by_subj: subjectFor(Events.replicationBootstrapStarted, POOL) })).data));
    assert.deepEqual(pick(boot.data, ['from', 'to', 'reason']), { from: owner, to: passive, reason: 'no snapshot in common with the active any more' });
    assert.ok(Date.parse(boot.at) > away, 'the bootstrap came after the passive was away');
    const kept = await tb.exec(passive, ['zfs', 'list', '-H', '-o', 'name', '-r', `${POOL}/${KEPT_DATASET}`]);
    assert.ok(kept.stdout.split('\n').filter((l) => l.includes('/kept-')).length >= 1, 'its old copy kept aside');
    await readAllBack();
    await rm('replication.settings', { pool: POOL, retention: 3 });
  });

  test('a node presenting another host key than the pinned one is refused; rotating its keys through the cluster pins the new ones and replication goes on', async () => {
    const owner = (await pool()).node!;
    const passive = other(owner);
    // the active's keys changed behind the cluster's back (a reinstalled node, or an impostor)
    await host.call(owner, 'ssh.rotate', { phase: 'prepare' }, 30_000);
    await host.call(owner, 'ssh.rotate', { phase: 'commit' }, 30_000);
    await waitFor(
      async () => {
        const r = (await repl()).replication?.replicas[passive];
        return r?.state === 'error' && /host key/i.test(r.reason ?? '') ? r : false;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `${passive} refusing ${owner}'s unpinned host key` },
    );
    const rotated = await rm('replication.keys-rotate', { node: owner });
    assert.match(rotated.hostKey, /^ssh-ed25519 /);
    const record = await new KvRecordStore(nc, CLUSTER_RECORD).get(CLUSTER_RECORD_ID);
    assert.deepEqual(record?.value.nodes.find((n) => n.id === owner)?.ssh, { hostKeys: [rotated.hostKey], clientKeys: [rotated.clientKey] }, 'only the new keys stay pinned');
    await write();
    const t0 = sinceNow();
    await replicatedAfter(passive, t0, 90_000);
  });

  test("a node's replication address moved to its admin address (--ssh-address): its endpoint listens there alone, and replication goes through it", async () => {
    const owner = (await pool()).node!;
    const passive = other(owner);
    const node = status.nodes.find((n) => n.name === owner)!;
    const admin = node.addresses.admin!;
    const settings = await rm('replication.settings', { sshAddresses: { [owner]: admin } });
    assert.equal(settings.sshAddresses[owner], admin);
    const listening = async () => (await tb.exec(owner, ['ss', '-Hltn', `sport = :${settings.sshPort}`], { timeoutMs: 10_000 })).stdout;
    await waitFor(async () => (await listening()).includes(`${admin}:${settings.sshPort}`), { timeoutMs: 30_000, intervalMs: 250, what: `${owner}'s endpoint listening on ${admin}` });
    assert.ok(!(await listening()).includes(`${node.addresses.heartbeat!}:${settings.sshPort}`), 'no longer on the heartbeat address');
    await write();
    const t0 = sinceNow();
    await replicatedAfter(passive, t0, 90_000);
  });

  test('node offline of the active: its pool moves with a final sync, nothing lost; back online, it becomes the passive and catches up', async () => {
    const owner = (await pool()).node!;
    const passive = other(owner);
    await write();
    const off = await rm('node.offline', { node: owner });
    assert.deepEqual(off.moved, [{ pool: POOL, to: passive }]);
    await readAllBack();
    await assertServedOnlyOn(passive);
    assert.equal((await pool()).node, passive);
    await rm('node.online', { node: owner });
    await write();
    const t0 = sinceNow();
    await replicatedAfter(owner, t0, 120_000);
    assert.equal((await repl()).direction, `${passive} → ${owner}`);
    await assertServedOnlyOn(passive);
  });

  test('the active replication-scheduler crashes (SIGKILL): the other node takes its lease, and snapshots and pulls go on from the timers in KV', async () => {
    const leases = new KvRecordStore(nc, LEADER_LEASE_RECORD);
    const holder = (await leases.get('replication-scheduler'))?.value.holder;
    assert.ok(holder, 'a replication-scheduler holds the lease');
    await killService(holder, 'replication-scheduler');
    await waitFor(async () => ((await leases.get('replication-scheduler'))?.value.holder === other(holder) ? true : false), {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: `${other(holder)}'s replication-scheduler taking the lease`,
    });
    const passive = other((await pool()).node!);
    await write();
    await replicatedAfter(passive, sinceNow(), 90_000);
    await tb.up({ nodes: 2 }); // the crashed one back, as a standby
  });
});
