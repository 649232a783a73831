import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { Client, Server, type ClientChannel, type ConnectConfig } from 'ssh2';
import {
  CLUSTER_RECORD,
  CLUSTER_RECORD_ID,
  ErrorCode,
  POOL_RECORD,
  TandemError,
  eventEnvelopeSchema,
  type ClusterRecord,
  type HaPool,
  type HostOpRequest,
  type HostOpResults,
} from '@tandem/contracts';
import { HostClient, KvRecordStore } from '@tandem/messaging';
import { waitFor } from '@tandem/util';
import { startIsolatedNode, type IsolatedNode } from '@tandem/testbed';
import { makeEd25519 } from './replication/ssh-keys.service';

/**
 * Tandem's SSH replication transport against the real thing: one isolated node (its own
 * zfs-fuse, NATS and network namespace) with two pools, replicating from one to the other through
 * its own replication endpoint on its admin address — the receiver, the endpoint, zfs send and
 * zfs receive all real. The test process (outside the node's namespace) plays other SSH clients:
 * ssh2 and the OpenSSH `ssh` binary with the node's own client key, and a fake peer that stalls.
 */
describe('replication over SSH (real zfs-fuse, NATS, ssh2 and OpenSSH, namespaces)', () => {
  let node: IsolatedNode;
  let nc: NatsConnection;
  let host: HostClient;
  let clusters: KvRecordStore<ClusterRecord>;
  let pools: KvRecordStore<HaPool>;
  let keys: HostOpResults['ssh.keys'];
  const ADDRESS = '10.77.6.2'; // the node's admin address, reached from the test process
  const PORT = 2222;
  const S0 = 'tandem-20260101-000000';
  const S1 = 'tandem-20260101-000100';
  const S2 = 'tandem-20260101-000200';
  const S3 = 'tandem-20260101-000300';
  const work = mkdtempSync(join(tmpdir(), 'tandem-repl-it-'));
  const me = () => node.nodeId;
  const clientKeyFile = () => join(node.stateDir, 'ssh', 'client_ed25519');
  const fingerprint = (line: string) =>
    `SHA256:${createHash('sha256')
      .update(Buffer.from(line.split(' ')[1], 'base64'))
      .digest('base64')
      .replace(/=+$/, '')}`;

  async function rejects(p: Promise<unknown>, code: ErrorCode): Promise<TandemError> {
    try {
      await p;
    } catch (err) {
      assert.ok(err instanceof TandemError, `expected a TandemError, got ${String(err)}`);
      assert.equal(err.code, code, err.message);
      return err;
    }
    assert.fail(`expected ${code}`);
  }

  const tcpOpen = (hostName: string, port: number) =>
    new Promise<boolean>((resolve) => {
      const s = tcpConnect({ host: hostName, port });
      const done = (ok: boolean) => {
        s.destroy();
        resolve(ok);
      };
      s.setTimeout(1_000, () => done(false));
      s.once('connect', () => done(true));
      s.once('error', () => done(false));
    });

  const sh = async (script: string) => {
    const r = await node.exec(['sh', '-c', script]);
    assert.equal(r.exitCode, 0, `${script}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const exists = async (dataset: string) => (await node.exec(['zfs', 'get', '-H', '-o', 'value', 'type', dataset])).exitCode === 0;
  const prop = async (property: string, dataset: string) => sh(`zfs get -H -o value ${property} ${dataset}`);
  const guids = async (dataset: string) => Object.fromEntries((await host.call(me(), 'snapshot.list', { dataset })).map((s) => [s.snapshot, s.guid] as const)) as Record<string, string>;
  const sha = async (path: string) => (await sh(`sha256sum ${path}`)).split(' ')[0];

  async function updateCluster(change: (c: ClusterRecord) => void): Promise<void> {
    const cur = await clusters.get(CLUSTER_RECORD_ID);
    assert.ok(cur, 'the cluster record exists');
    const next = structuredClone(cur.value);
    change(next);
    const r = await clusters.put(CLUSTER_RECORD_ID, next, cur.revision);
    assert.ok(r.ok, 'cluster record written');
  }
  const pinHostKeys = (hostKeys: string[]) =>
    updateCluster((c) => {
      const m = c.nodes.find((n) => n.id === me());
      if (m?.ssh) m.ssh.hostKeys = hostKeys;
    });

  const receive = (over: Partial<HostOpRequest<'replication.receive'>> & Pick<HostOpRequest<'replication.receive'>, 'dataset' | 'snapshot' | 'base'>, timeoutMs = 120_000) =>
    host.call(me(), 'replication.receive', { from: me(), address: ADDRESS, port: PORT, stallTimeoutMs: 10_000, pool: 'src', ...over }, timeoutMs);

  /** Every event on `subject` from now on. */
  function collect(subject: string): { events: Array<{ schema: string; data: Record<string, unknown> }>; sub: Subscription } {
    const events: Array<{ schema: string; data: Record<string, unknown> }> = [];
    const sub = nc.subscribe(subject, {
      callback: (_e, m) => {
        const env = eventEnvelopeSchema.parse(JSON.parse(new TextDecoder().decode(m.data)));
        events.push({ schema: env.schema, data: env.data as Record<string, unknown> });
      },
    });
    return { events, sub };
  }

  /** An ssh2 client logged in to the node's endpoint (the node's own client key unless told otherwise). */
  function sshLogin(opts: Partial<ConnectConfig> = {}): Promise<Client> {
    return new Promise((resolve, reject) => {
      const c = new Client();
      c.once('ready', () => resolve(c));
      c.once('error', reject);
      c.connect({
        host: ADDRESS,
        port: PORT,
        username: me(),
        privateKey: readFileSync(clientKeyFile()),
        hostVerifier: (key: Buffer) => key.equals(Buffer.from(keys.hostKey.split(' ')[1], 'base64')),
        readyTimeout: 10_000,
        ...opts,
      });
    });
  }
  /** Run `command` on the endpoint: stdout, stderr and exit status. */
  function sshExec(c: Client, command: string): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
    return new Promise((resolve, reject) =>
      c.exec(command, (err, ch: ClientChannel) => {
        if (err) return reject(err);
        const out: Buffer[] = [];
        let stderr = '';
        let code: number | null = null;
        ch.on('data', (d: Buffer) => out.push(d));
        ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        ch.on('exit', (c2: number | null) => (code = c2));
        ch.on('close', () => resolve({ stdout: Buffer.concat(out), stderr, code }));
      }),
    );
  }
  const sendCommand = (snapshot: string, base: string | null = null) => JSON.stringify({ v: 1, op: 'send', snapshot, base });

  before(async () => {
    node = await startIsolatedNode('repl');
    nc = await connect({ servers: node.natsUrl });
    host = new HostClient(nc, 60_000);
    clusters = new KvRecordStore(nc, CLUSTER_RECORD);
    pools = new KvRecordStore(nc, POOL_RECORD);
  });

  after(async () => {
    await nc?.close();
    // the node's directory goes with it: its host-executor's log is kept for a look after a failure
    if (node) copyFileSync('/tmp/tandem-it-repl/host-executor.log', join(tmpdir(), 'tandem-it-repl-host-executor.log'));
    await node?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  test('the node makes its replication keys at first start (0600), and listens for replication only once it is a member', async () => {
    keys = await host.call(me(), 'ssh.keys', {});
    assert.match(keys.hostKey, /^ssh-ed25519 AAAA\S+$/);
    assert.match(keys.clientKey, /^ssh-ed25519 AAAA\S+$/);
    assert.equal(keys.pending, null);
    assert.equal(statSync(join(node.stateDir, 'ssh')).mode & 0o777, 0o700);
    assert.equal(statSync(clientKeyFile()).mode & 0o777, 0o600);
    assert.equal(statSync(join(node.stateDir, 'ssh', 'host_ed25519')).mode & 0o777, 0o600);
    assert.equal(await tcpOpen(ADDRESS, PORT), false, 'no endpoint before the node is in a cluster');

    const now = new Date().toISOString();
    const put = await clusters.put(
      CLUSTER_RECORD_ID,
      {
        id: 'it',
        heartbeatInterface: 'adm0',
        maintenance: false,
        createdAt: now,
        nodes: [{ id: me(), heartbeatAddress: ADDRESS, adminState: 'online', joinedAt: now, ssh: { hostKeys: [keys.hostKey], clientKeys: [keys.clientKey] } }],
        replication: { sshPort: PORT },
      },
      0,
    );
    assert.ok(put.ok);
    // the pools' records: what the endpoint asks before it sends (no node runs them: nothing here is fenced)
    const record = (name: string, mode: 'replicated' | 'shared'): HaPool => ({
      name,
      state: 'inactive',
      node: null,
      operation: null,
      reason: 'integration test',
      vips: [],
      shares: [],
      fc: false,
      epoch: 1,
      mountpoint: null,
      updatedAt: now,
      mode,
    });
    assert.ok((await pools.put('src', record('src', 'replicated'), 0)).ok);
    assert.ok((await pools.put('dst', record('dst', 'shared'), 0)).ok);
    await waitFor(() => tcpOpen(ADDRESS, PORT), { timeoutMs: 15_000, intervalMs: 200, what: `the replication endpoint listening on ${ADDRESS}:${PORT}` });

    await host.call(me(), 'pool.create', { pool: 'src', vdevs: ['src-0'], sizeMiB: 768 });
    await host.call(me(), 'pool.create', { pool: 'dst', vdevs: ['dst-0'], sizeMiB: 1024 });
    await host.call(me(), 'dataset.create', { dataset: 'src/data' });
    await host.call(me(), 'dataset.create', { dataset: 'src/small' });
    await sh('head -c 67108864 /dev/urandom > /src/data/big && echo first > /src/data/a.txt && echo small > /src/small/s.txt && sync');
    await host.call(me(), 'snapshot.create', { dataset: 'src/data', name: S0 });
    await host.call(me(), 'snapshot.create', { dataset: 'src/small', name: S0 });
  });

  test('a full, then an incremental (-I, every snapshot between) transfer arrive with the same GUIDs and content; the copy is never mounted', async () => {
    const [s0] = await host.call(me(), 'snapshot.list', { dataset: 'src/data' });
    assert.ok((s0.referencedBytes ?? 0) > 64 * 1024 * 1024, `snapshot.list tells the referenced bytes: ${s0.referencedBytes}`);
    const progress = collect('tandem.evt.replication.src.progress');
    const full = await receive({ dataset: 'dst/data', snapshot: `src/data@${S0}`, base: null, expectedBytes: s0.referencedBytes ?? null });
    assert.ok(full.bytes > 64 * 1024 * 1024, `bytes ${full.bytes}`);
    assert.equal(full.received?.name, `dst/data@${S0}`);
    assert.equal(full.received?.guid, s0.guid, 'the received snapshot has the sender GUID');
    assert.equal(await prop('canmount', 'dst/data'), 'noauto');
    assert.equal(await prop('mounted', 'dst/data'), 'no');
    await waitFor(() => progress.events.length > 0, { timeoutMs: 5_000, intervalMs: 50, what: 'a progress event' });
    progress.sub.unsubscribe();
    const p = progress.events[0];
    assert.equal(p.schema, 'tandem.replication.progress/1');
    assert.deepEqual([p.data.from, p.data.to, p.data.dataset, p.data.kind, p.data.total], [me(), me(), 'dst/data', 'full', s0.referencedBytes]);
    assert.ok((p.data.bytes as number) > 0 && typeof p.data.percent === 'number', JSON.stringify(p.data));

    await sh('echo second > /src/data/b.txt && sync');
    await host.call(me(), 'snapshot.create', { dataset: 'src/data', name: S1 });
    await sh('echo third > /src/data/c.txt && sync');
    await host.call(me(), 'snapshot.create', { dataset: 'src/data', name: S2 });
    const incr = await receive({ dataset: 'dst/data', snapshot: `src/data@${S2}`, base: `src/data@${S0}` });
    assert.ok(incr.bytes > 0 && incr.bytes < 1024 * 1024, `an incremental carries only the changes: ${incr.bytes} bytes`);
    assert.deepEqual(await guids('dst/data'), await guids('src/data'), 'every snapshot between came, with its GUID');

    await sh('zfs mount dst/data');
    for (const f of ['big', 'a.txt', 'b.txt', 'c.txt']) assert.equal(await sha(`/dst/data/${f}`), await sha(`/src/data/${f}`), f);
  });

  test('a copy written to since its last snapshot is refused, and received once rolled back to the common base', async () => {
    await sh('echo stray > /dst/data/stray.txt && sync');
    await sh('echo fourth > /src/data/d.txt && sync');
    await host.call(me(), 'snapshot.create', { dataset: 'src/data', name: S3 });
    const diverged = await rejects(receive({ dataset: 'dst/data', snapshot: `src/data@${S3}`, base: `src/data@${S2}` }), ErrorCode.StreamFailed);
    assert.match(diverged.detail ?? '', /modified/);
    await receive({ dataset: 'dst/data', snapshot: `src/data@${S3}`, base: `src/data@${S2}`, rollbackTo: `dst/data@${S2}` });
    assert.deepEqual(await guids('dst/data'), await guids('src/data'));
    await sh('zfs unmount dst/data; zfs mount dst/data');
    assert.equal((await node.exec(['test', '-e', '/dst/data/stray.txt'])).exitCode, 1, 'the stray write was rolled back');
    assert.equal(await sha('/dst/data/d.txt'), await sha('/src/data/d.txt'));
    await sh('zfs unmount dst/data');
  });

  test('a full resync replaces a copy that is there: Tandem base holds released, its snapshots destroyed', async () => {
    await host.call(me(), 'snapshot.hold', { snapshot: `dst/data@${S2}`, tag: `tandem-base-${me()}` });
    const r = await receive({ dataset: 'dst/data', snapshot: `src/data@${S3}`, base: null });
    assert.ok(r.bytes > 64 * 1024 * 1024);
    assert.deepEqual(await guids('dst/data'), { [S3]: (await guids('src/data'))[S3] });
    assert.equal(await prop('canmount', 'dst/data'), 'noauto');
  });

  test('throughput of a full transfer through the endpoint, against a local zfs send | zfs receive (medians of 3)', async (t) => {
    const overSsh: number[] = [];
    const local: number[] = [];
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
    for (const i of [1, 2, 3]) {
      const r = await receive({ dataset: `dst/speed${i}`, snapshot: `src/data@${S0}`, base: null });
      overSsh.push(r.bytes / 1e6 / (r.ms / 1000));
      // the same stream without SSH, on the same node: how much of the time is zfs-fuse's own
      const ms = Number(await sh(`s=$(date +%s%N); zfs send src/data@${S0} | zfs receive -u dst/local${i}; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`));
      local.push(r.bytes / 1e6 / (ms / 1000));
      await sh(`zfs destroy -r dst/local${i}`);
    }
    const f = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
    t.diagnostic(
      `full transfer of 67 MB of random data, zfs-fuse on both ends: over the SSH endpoint ${f(overSsh)} MB/s (median ${median(overSsh).toFixed(1)}); ` +
        `local pipe ${f(local)} MB/s (median ${median(local).toFixed(1)}); SSH/local ${(median(overSsh) / median(local)).toFixed(2)}`,
    );
    assert.ok(median(overSsh) > 0);
  });

  test('another host key than the pinned one is refused: HOST_KEY_REFUSED naming both fingerprints, an event, nothing received', async () => {
    const other = makeEd25519().pair.public;
    await pinHostKeys([other]);
    const refusedEvents = collect(`tandem.evt.replication.${me()}.host-key-refused`);
    try {
      const err = await rejects(receive({ dataset: 'dst/wrong', snapshot: `src/data@${S0}`, base: null }), ErrorCode.HostKeyRefused);
      assert.match(err.message, new RegExp(`${me()}'s replication endpoint at ${ADDRESS}:${PORT} presented host key`));
      assert.ok(err.message.includes(fingerprint(keys.hostKey)), 'the presented fingerprint');
      assert.ok(err.message.includes(fingerprint(other)), 'the pinned fingerprint');
      assert.match(err.message, new RegExp(`If ${me()} was reinstalled, rotate or re-pin its keys with tandem replication keys rotate ${me()}`));
      assert.equal(await exists('dst/wrong'), false, 'nothing received');
      await waitFor(() => refusedEvents.events.length > 0, { timeoutMs: 5_000, intervalMs: 50, what: 'the host-key-refused event' });
      assert.deepEqual(refusedEvents.events[0].data, { node: me(), peer: me(), pinned: [fingerprint(other)], presented: fingerprint(keys.hostKey) });
    } finally {
      refusedEvents.sub.unsubscribe();
      await pinHostKeys([keys.hostKey]);
    }
  });

  test('with ssh2: the replication key opens no shell, terminal, sftp or port forwarding, and runs nothing but a send of a replicated pool', async () => {
    await host.call(me(), 'snapshot.create', { dataset: 'src/data', name: 'manual' });
    // each on a connection of its own (a connection carries one session)
    const attempt = async (what: string, fn: (c: Client, cb: (err: Error | undefined) => void) => void) => {
      const c = await sshLogin();
      try {
        await assert.rejects(new Promise((res, rej) => fn(c, (err) => (err ? rej(err) : res(null)))), what);
      } finally {
        c.end();
      }
    };
    await attempt('no shell', (c, cb) => c.shell(false, (err) => cb(err)));
    await attempt('no terminal', (c, cb) => c.exec(sendCommand(`src/small@${S0}`), { pty: true }, (err) => cb(err)));
    await attempt('no sftp', (c, cb) => c.sftp((err) => cb(err)));
    await attempt('no other subsystem', (c, cb) => c.subsys('netconf', (err) => cb(err)));
    await attempt('no local port forwarding', (c, cb) => c.forwardOut('127.0.0.1', 0, '127.0.0.1', 4222, (err) => cb(err)));
    await attempt('no remote port forwarding', (c, cb) => c.forwardIn('127.0.0.1', 0, (err) => cb(err)));
    await attempt('no unix socket', (c, cb) => c.openssh_forwardOutStreamLocal('/run/zfs/zfs_socket', (err) => cb(err)));
    const refused = async (command: string, why: RegExp) => {
      const conn = await sshLogin();
      try {
        const r = await sshExec(conn, command);
        assert.equal(r.code, 1, command);
        assert.equal(r.stdout.length, 0, command);
        assert.match(r.stderr, /^tandem: refused: .*\n$/, command);
        assert.match(r.stderr, why, command);
      } finally {
        conn.end();
      }
    };
    await refused('zfs destroy -r src', /is not a Tandem replication command/);
    await refused('sh -c id', /is not a Tandem replication command/);
    await refused(sendCommand('src/data@manual'), /only Tandem snapshots/);
    await refused(sendCommand(`dst/data@${S0}`), /dst is not a replicated pool \(its mode is shared\)/);
    await refused(sendCommand(`nopool/data@${S0}`), /nopool is not a pool of this cluster/);
    await refused(sendCommand(`src/data@${S0}`, `src/data@${S0.replace('0000', '9999')}`), /the incremental base .* does not exist/);
    assert.equal(await exists('src/data'), true);

    // one real send: the stream a receiver gets
    const conn = await sshLogin();
    try {
      const r = await sshExec(conn, sendCommand(`src/small@${S0}`));
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.length > 1000, `${r.stdout.length} bytes`);
      writeFileSync(join(work, 'small.zstream'), r.stdout);
    } finally {
      conn.end();
    }

    // logins: only as the member the key is pinned for, only with a pinned key
    await assert.rejects(sshLogin({ username: 'it-other' }), /authentication methods failed/);
    await assert.rejects(sshLogin({ privateKey: makeEd25519().pair.private }), /authentication methods failed/);
    await assert.rejects(sshLogin({ privateKey: undefined, password: 'x' }), /authentication methods failed/);
  });

  test('with the OpenSSH client: the same refusals, and a send that works', async () => {
    const knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, `[${ADDRESS}]:${PORT} ${keys.hostKey}\n`);
    const ssh = (args: string[], user = me()) =>
      execa(
        'ssh',
        [
          '-F',
          '/dev/null',
          '-i',
          clientKeyFile(),
          '-p',
          String(PORT),
          '-o',
          'IdentitiesOnly=yes',
          '-o',
          'BatchMode=yes',
          '-o',
          `UserKnownHostsFile=${knownHosts}`,
          '-o',
          'StrictHostKeyChecking=yes',
          '-o',
          'ConnectTimeout=10',
          '-l',
          user,
          ...args,
        ],
        { reject: false, timeout: 30_000, encoding: 'buffer', stdin: 'ignore' },
      );
    const text = (b: unknown) => Buffer.from(b as Uint8Array).toString();

    const sent = await ssh([ADDRESS, sendCommand(`src/small@${S0}`)]);
    assert.equal(sent.exitCode, 0, text(sent.stderr));
    assert.ok(Buffer.from(sent.stdout as Uint8Array).equals(readFileSync(join(work, 'small.zstream'))), 'the same stream as through ssh2');

    const destroy = await ssh([ADDRESS, 'zfs', 'destroy', '-r', 'src']);
    assert.equal(destroy.exitCode, 1);
    assert.match(text(destroy.stderr), /tandem: refused: "zfs destroy -r src" is not a Tandem replication command/);
    const notReplicated = await ssh([ADDRESS, sendCommand(`dst/data@${S0}`)]);
    assert.equal(notReplicated.exitCode, 1);
    assert.match(text(notReplicated.stderr), /dst is not a replicated pool/);

    const shell = await ssh(['-T', ADDRESS]);
    assert.equal(shell.exitCode, 255);
    assert.match(text(shell.stderr), /shell request failed/);
    const pty = await ssh(['-tt', ADDRESS, sendCommand(`src/small@${S0}`)]);
    assert.match(text(pty.stderr), /PTY allocation request failed/);
    const sftp = await ssh(['-s', ADDRESS, 'sftp']);
    assert.equal(sftp.exitCode, 255);
    assert.match(text(sftp.stderr), /subsystem request failed/);
    const local = await ssh(['-W', '127.0.0.1:4222', ADDRESS]);
    assert.equal(local.exitCode, 255);
    assert.match(text(local.stderr), /administratively prohibited|open failed|stdio forwarding failed/);
    const remote = await ssh(['-N', '-o', 'ExitOnForwardFailure=yes', '-R', '127.0.0.1:0:127.0.0.1:22', ADDRESS]);
    assert.equal(remote.exitCode, 255);
    assert.match(text(remote.stderr), /remote port forwarding failed/);
    const otherUser = await ssh([ADDRESS, sendCommand(`src/small@${S0}`)], 'root');
    assert.equal(otherUser.exitCode, 255);
    assert.match(text(otherUser.stderr), /Permission denied \(publickey\)/);
    assert.equal(await exists('src/data'), true);
  });

  test('keep-aside copies every dataset of a pool under <pool>/tandem-kept/<tag>, never mounted; asked again, the same', async () => {
    const keptEvents = collect('tandem.evt.replication.dst.kept-aside');
    try {
      const r = await host.call(me(), 'replication.keep-aside', { pool: 'dst', tag: 't1' }, 120_000);
      assert.equal(r.kept, 'dst/tandem-kept/t1');
      assert.deepEqual(r.datasets, ['dst/tandem-kept/t1', 'dst/tandem-kept/t1/data', 'dst/tandem-kept/t1/speed1', 'dst/tandem-kept/t1/speed2', 'dst/tandem-kept/t1/speed3']);
      const snap = 'tandem-diverged-t1';
      assert.equal((await guids('dst/tandem-kept/t1/data'))[snap], (await guids('dst/data'))[snap], 'a copy of the data as it was at the keep-aside snapshot');
      assert.equal(await prop('mountpoint', 'dst/tandem-kept'), 'none');
      assert.equal(await prop('mounted', 'dst/tandem-kept/t1/data'), 'no');
      assert.deepEqual(Object.keys(await guids('dst/tandem-kept')), [], 'the kept tree is not snapshotted itself');
      // given a mountpoint, a copy mounts (only then)
      await sh('zfs set mountpoint=/kept-check dst/tandem-kept/t1/data');
      assert.equal(await prop('mounted', 'dst/tandem-kept/t1/data'), 'yes');
      assert.equal(await sha('/kept-check/big'), await sha('/src/data/big'));
      await sh('zfs unmount dst/tandem-kept/t1/data && zfs inherit mountpoint dst/tandem-kept/t1/data');
      await waitFor(() => keptEvents.events.length > 0, { timeoutMs: 5_000, intervalMs: 50, what: 'the kept-aside event' });
      assert.equal(keptEvents.events[0].data.dataset, 'dst/tandem-kept/t1');
      assert.equal(keptEvents.events[0].data.node, me());

      assert.deepEqual(await host.call(me(), 'replication.keep-aside', { pool: 'dst', tag: 't1' }, 120_000), r, 'asked again: nothing new');
      const second = await host.call(me(), 'replication.keep-aside', { pool: 'dst', tag: 't2' }, 120_000);
      assert.equal(second.datasets.filter((d) => d.includes('tandem-kept/t1')).length, 0, 'what was kept before is not kept again');
      assert.deepEqual(Object.keys(await guids('dst/tandem-kept/t1/data')), ['tandem-diverged-t1'], 'and not snapshotted again');
    } finally {
      keptEvents.sub.unsubscribe();
    }
  });

  describe('a peer that stalls, or fails to send', () => {
    let fake: Server;
    let fakePort = 0;
    let stalledConnections = 0;
    let closedConnections = 0;
    const fakeHost = makeEd25519().pair;

    before(async () => {
      const stream = readFileSync(join(work, 'small.zstream'));
      fake = new Server({ hostKeys: [fakeHost.private] }, (client) => {
        client.on('error', () => undefined);
        client.on('authentication', (ctx) => ctx.accept());
        client.on('close', () => closedConnections++);
        client.on('ready', () =>
          client.on('session', (accept) =>
            accept().once('exec', (acceptExec, _r, info) => {
              const ch = acceptExec();
              const cmd = JSON.parse(info.command) as { snapshot: string };
              if (cmd.snapshot.endsWith('000200')) {
                ch.stderr.write('cannot send: disk on fire\n');
                ch.exit(2);
                ch.end();
                return;
              }
              // the beginning of a real stream, then nothing more: zfs receive waits for the rest
              stalledConnections++;
              ch.write(stream.subarray(0, Math.floor(stream.length / 2)));
            }),
          ),
        );
      });
      await new Promise<void>((r) => fake.listen(0, '10.77.6.1', () => r()));
      fakePort = (fake.address() as AddressInfo).port;
      await updateCluster((c) => {
        c.nodes.push({
          id: 'it-fake',
          heartbeatAddress: '10.77.6.1',
          adminState: 'online',
          joinedAt: new Date().toISOString(),
          ssh: { hostKeys: [fakeHost.public], clientKeys: [makeEd25519().pair.public] },
        });
      });
    });

    after(() => new Promise<void>((r) => fake.close(() => r())));

    test('a stream that moves no byte for the stall timeout fails STREAM_STALLED, killed on both ends, nothing received', async () => {
      const started = performance.now();
      const err = await rejects(
        receive({ dataset: 'dst/stalled', snapshot: `src/small@${S0}`, base: null, from: 'it-fake', address: '10.77.6.1', port: fakePort, stallTimeoutMs: 1_500 }),
        ErrorCode.StreamStalled,
      );
      const ms = performance.now() - started;
      assert.equal(stalledConnections, 1);
      assert.ok(ms >= 1_400 && ms < 10_000, `failed after ${Math.round(ms)} ms`);
      assert.match(err.message, /moved no byte for 1500 ms/);
      await waitFor(() => closedConnections >= 1, { timeoutMs: 5_000, intervalMs: 50, what: "the stalled sender's connection dropped" });
      assert.equal(await exists('dst/stalled'), false);
      assert.equal((await node.exec(['pgrep', '-f', 'zfs receive -u dst/stalle[d]'])).exitCode, 1, 'no zfs receive left running');
    });

    test('a sender that fails: its own words, nothing received', async () => {
      const err = await rejects(receive({ dataset: 'dst/failed', snapshot: `src/small@${S2}`, base: null, from: 'it-fake', address: '10.77.6.1', port: fakePort }), ErrorCode.StreamFailed);
      assert.match(err.message, /it-fake could not send src\/small@tandem-20260101-000200: cannot send: disk on fire/);
      assert.equal(await exists('dst/failed'), false);
    });
  });

  test('key rotation: prepared keys wait, committed ones are presented; a receive with both pinned goes on', async () => {
    const pending = await host.call(me(), 'ssh.rotate', { phase: 'prepare' });
    assert.notEqual(pending.hostKey, keys.hostKey);
    assert.deepEqual((await host.call(me(), 'ssh.keys', {})).pending, pending);
    // pinned next to the current keys, as the cluster does before the commit
    await updateCluster((c) => {
      const m = c.nodes.find((n) => n.id === me());
      if (m?.ssh) m.ssh = { hostKeys: [keys.hostKey, pending.hostKey], clientKeys: [keys.clientKey, pending.clientKey] };
    });
    await receive({ dataset: 'dst/rot1', snapshot: `src/small@${S0}`, base: null });

    assert.deepEqual(await host.call(me(), 'ssh.rotate', { phase: 'commit' }), pending);
    assert.deepEqual(await host.call(me(), 'ssh.keys', {}), { ...pending, pending: null });
    const presented = () =>
      new Promise<string>((resolve) => {
        const c = new Client();
        c.on('error', () => undefined);
        c.connect({
          host: ADDRESS,
          port: PORT,
          username: 'probe',
          hostVerifier: (key: Buffer) => {
            resolve(`ssh-ed25519 ${key.toString('base64')}`);
            return false;
          },
        });
      });
    await waitFor(async () => (await presented()) === pending.hostKey, { timeoutMs: 10_000, intervalMs: 200, what: 'the endpoint presenting the new host key' });
    const r = await receive({ dataset: 'dst/rot2', snapshot: `src/small@${S0}`, base: null });
    assert.equal(r.received?.name, `dst/rot2@${S0}`);
    await pinHostKeys([keys.hostKey]);
    await rejects(receive({ dataset: 'dst/rot3', snapshot: `src/small@${S0}`, base: null }), ErrorCode.HostKeyRefused);
  });
});
