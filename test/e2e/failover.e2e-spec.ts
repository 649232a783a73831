import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { ErrorCode, EVENTS_STREAM, Events, FAILOVER_TIMINGS, POOLS_BUCKET, subjectFor, type RmOperation, type RmOpRequest } from '@tandem/contracts';
import { HeartbeatClient, HostClient, ResourceManagerClient, retryWhileUnavailable, waitForStreamLeader } from '@tandem/messaging';
import { Testbed, type TestbedStatus } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { OtlpCollector } from '../support/otlp-collector';
import { setUpTwoNodeCluster } from '../support/cluster';
import { printNodeLogsOnFailure, readable } from '../support/failure-logs';
import { runTandem } from '../support/tandem-cli';
import { HEARTBEAT_TIMEOUT_MS, LOCAL_HEALTH_INTERVAL_MS, POOL_LOST_AFTER_MS, TAKEOVER_AFTER_MS } from '../support/timings';
import { holdsFor } from '../support/wait';

/**
 * Chaos on the testbed: the faults of a storage HA cluster, each repeated, with the pool's
 * floating IP and SMB share read from the client namespace. After every fault: the pool is
 * imported on exactly one node and its IP up on exactly one node (asked of each node's zfs and
 * ip directly), and every file synced before the fault reads back.
 */
// a short hold-down (the default is 120 s), passed to the testbed's services: the client-link
// move is repeated after it, and the hold-down is seen both holding and expiring
const HOLD_DOWN_MS = 30_000;
process.env.TANDEM_FAILOVER_HOLD_DOWN_MS = String(HOLD_DOWN_MS);
// the "nothing moves" periods below last about three times the longest reaction they rule out:
// a peer taking a silent owner's pool over (TAKEOVER_AFTER_MS), an owner fencing itself
// (fenceAfterMs + fenceBudgetMs): 10.5 s
const NOTHING_MOVES_MS = 3 * Math.max(TAKEOVER_AFTER_MS, FAILOVER_TIMINGS.fenceAfterMs + FAILOVER_TIMINGS.fenceBudgetMs);

describe('automatic failover and fencing (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const POOL = 'chaos';
  const VIP = '10.77.3.91';
  const NODES = ['node-a', 'node-b'] as const;
  let status: TestbedStatus;
  printNodeLogsOnFailure(() => tb.root, [...NODES]);
  let nc: NatsConnection;
  let host: HostClient;
  let rmc: ResourceManagerClient;
  let hb: HeartbeatClient;
  let files = 0;
  const traces = new OtlpCollector();

  const rm = <O extends RmOperation>(op: O, req: RmOpRequest<O>, waitForMs = 30_000) =>
    retryWhileUnavailable(() => rmc.call(op, req, 30_000), { waitForMs, codes: [ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.NotLeader] });
  // short answers: while the active resource-manager's node is lost, ask again rather than wait
  const pool = () => retryWhileUnavailable(() => rmc.call('pool.get', { pool: POOL }, 2_000), { waitForMs: 30_000, codes: [ErrorCode.Unavailable, ErrorCode.Timeout, ErrorCode.NotLeader] });
  const other = (n: string) => (n === 'node-a' ? 'node-b' : 'node-a');

  /** Where the pool is imported and its IP up, asked of every running node itself. */
  async function holders(): Promise<{ imported: string[]; ip: string[] }> {
    const imported: string[] = [];
    const ip: string[] = [];
    for (const n of NODES) {
      const list = await tb.exec(n, ['zpool', 'list', '-H', '-o', 'name'], { timeoutMs: 10_000 }).catch(() => null);
      if (list?.stdout.split('\n').includes(POOL)) imported.push(n);
      const addrs = await tb.exec(n, ['ip', '-o', 'addr', 'show', 'dev', 'cli0'], { timeoutMs: 10_000 }).catch(() => null);
      if (addrs?.stdout.includes(` ${VIP}/`)) ip.push(n);
    }
    return { imported, ip };
  }

  async function assertServedOnlyOn(node: string): Promise<void> {
    const h = await holders();
    assert.deepEqual(h.imported, [node], `pool imported on exactly ${node}: ${h.imported.join(',') || 'nowhere'}`);
    assert.deepEqual(h.ip, [node], `IP up on exactly ${node}: ${h.ip.join(',') || 'nowhere'}`);
    const p = await pool();
    assert.deepEqual([p.state, p.node], ['serving', node]);
  }

  /** What to read when a step fails: the pool record (from the KV bucket itself) and each node's failover/fencing log lines. */
  async function diagnose(): Promise<string> {
    const out: string[] = [];
    const kv = await nc
      .jetstream({ timeout: 2_000 })
      .views.kv(POOLS_BUCKET.bucket, { bindOnly: true })
      .catch(() => null);
    const rec = await kv?.get(`pool.${POOL}`).catch(() => null);
    out.push(`pool record: ${rec ? rec.string() : '(unreadable)'}`);
    for (const n of NODES) {
      for (const svc of ['resource-manager', 'host-executor', 'heartbeat']) {
        let lines: string[] = [];
        try {
          lines = readFileSync(join(status.root, 'nodes', n, 'logs', `${svc}.log`), 'utf8')
            .split('\n')
            .map(readable);
        } catch {
          continue;
        }
        const hits = lines.filter((l) => /failover|fenc|refus|declin|inactive|import|lease|leader|standby|health|error/i.test(l)).slice(-12);
        if (hits.length) out.push(`--- ${n} ${svc}:`, ...hits);
      }
    }
    return out.join('\n');
  }

  /** A new file through the share (the share writes synchronously: acknowledged means on disk). */
  async function writeSynced(_owner: string): Promise<void> {
    const name = `f${++files}.txt`;
    await tb.client(['sh', '-c', `echo content-${files} > /tmp/${name}`]);
    const put = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-c', `put /tmp/${name} ${name}`]);
    if (put.exitCode !== 0) assert.fail(`writing ${name} through ${VIP} failed: ${put.stdout}${put.stderr}\n${await diagnose()}`);
  }

  /** Every file written so far reads back through the IP; waits until the share answers. */
  async function readAllBack(timeoutMs = 30_000): Promise<number> {
    const t0 = performance.now();
    await waitFor(
      async () => {
        const r = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-c', 'prompt off; lcd /tmp/back; mget f*.txt'], { timeoutMs: 10_000 });
        if (r.exitCode === 0) return true;
        await tb.client(['mkdir', '-p', '/tmp/back']);
        throw new Error(`smbclient exited ${r.exitCode}: ${r.stderr}`);
      },
      { timeoutMs, intervalMs: 200, what: `the client reading through ${VIP}` },
    ).catch(async (err: Error) => assert.fail(`${err.message}\n${await diagnose()}`));
    const elapsed = performance.now() - t0;
    for (let i = 1; i <= files; i++) {
      const got = await tb.client(['cat', `/tmp/back/f${i}.txt`]);
      assert.equal(got.stdout, `content-${i}\n`, `file f${i}.txt reads back`);
    }
    await tb.client(['rm', '-rf', '/tmp/back']);
    await tb.client(['mkdir', '-p', '/tmp/back']);
    return elapsed;
  }

  /** The steady state the active resource-manager keeps: every replicated stream led by the witness. */
  const streamsLedByWitness = () => waitForStreamLeader(nc, 'witness', 60_000);

  /** After a failover away from `node`, let the pool run there again. */
  async function markUsable(node: string): Promise<void> {
    // after a node rejoins, NATS may re-elect the leader of a replicated stream (the resource-
    // manager's lease stream among them) for tens of seconds: operator operations wait for it
    const p = await rm('pool.mark-usable', { pool: POOL, node }, 120_000);
    assert.ok(!(p.failedOn ?? []).includes(node));
  }

  async function waitServedOn(node: string, timeoutMs: number): Promise<void> {
    await waitFor(
      async () => {
        const p = await rmc.call('pool.get', { pool: POOL }, 2_000);
        if (p.state !== 'serving' || p.node !== node) throw new Error(`the record: ${JSON.stringify(p)}`);
        return true;
      },
      { timeoutMs, intervalMs: 250, what: `pool ${POOL} serving on ${node}` },
    ).catch(async (err: Error) => assert.fail(`${err.message} (this test's NATS server: ${nc.info?.server_name ?? '?'})\n${await diagnose()}`));
  }

  /**
   * A node powered on (or repaired) again is back in the cluster: its host-executor answers, and
   * it and its peer hear each other up on their heartbeats.
   */
  async function nodeBack(node: string, timeoutMs: number): Promise<void> {
    const peer = other(node);
    await waitFor(
      async () => {
        await host.call(node, 'node.info', {}, 2_000);
        for (const [observer, watched] of [
          [node, peer],
          [peer, node],
        ]) {
          const seen = (await hb.view(observer, 2_000)).peers.find((p) => p.peer === watched);
          if (seen?.state !== 'up') throw new Error(`${observer} sees ${watched} ${seen?.state ?? 'not at all'}`);
        }
        return true;
      },
      { timeoutMs, intervalMs: 250, what: `${node} back: its host-executor answers, it and ${peer} hear each other up` },
    );
  }

  /**
   * A pool recorded as serving on `owner`, which rebooted and imported nothing, is lost there:
   * the peer takes it over (reason pool-lost) and the client reads everything back.
   */
  async function assertLostPoolMovedTo(owner: string, peer: string, timeoutMs: number): Promise<void> {
    await waitServedOn(peer, timeoutMs);
    await readAllBack(20_000);
    await assertServedOnlyOn(peer);
    const ev = await failedOverEvent((await pool()).epoch);
    assert.deepEqual([ev.from, ev.to, ev.reason], [owner, peer, 'pool-lost']);
  }

  type FailedOver = { from: string; to: string; reason: string; epoch: number; traceId: string | null; timings: { detectionMs: number; totalMs: number } };
  /**
   * The failed-over event of the failover that gave the pool `epoch`: one per failover, with its
   * trace id and the split timings (read from the stream: this test's own connection may have
   * been on a lost node's server).
   */
  async function failedOverEvent(epoch: number): Promise<FailedOver> {
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    const last = async (): Promise<FailedOver | null> => {
      const m = await jsm.streams.getMessage(EVENTS_STREAM.name, { last_by_subj: subjectFor(Events.poolFailedOver, POOL) }).catch(() => null);
      return m ? (JSON.parse(new TextDecoder().decode(m.data)) as { data: FailedOver }).data : null;
    };
    const ev = await waitFor(
      async () => {
        const e = await last();
        if (e?.epoch !== epoch) throw new Error(`the last one there: ${JSON.stringify(e)}`);
        return e;
      },
      { timeoutMs: 15_000, intervalMs: 500, what: `the failed-over event of epoch ${epoch} in the stream` },
    );
    assert.match(ev.traceId ?? '', /^[0-9a-f]{32}$/);
    await assertFailoverTrace(ev);
    return ev;
  }

  /**
   * The activity log, read by the operator with `tandem log` on the surviving node, has the
   * failover as succeeded with the trace id of its trace (and the human table shows that id).
   */
  async function assertLoggedWithTrace(node: string, traceId: string): Promise<void> {
    const api = status.nodes.find((n) => n.name === node)!.api!;
    const cli = (args: string[]) => runTandem(api, args, { timeoutMs: 60_000, ca: status.ca });
    type Row = { action: string; target: string; result: string; traceId: string | null };
    let rows: Row[] = [];
    let last = '';
    const failovers = () => rows.filter((x) => x.action === 'pool.failover' && x.target === POOL);
    await waitFor(
      async () => {
        const r = await cli(['--json', 'log', '--limit', '200']);
        last = `${r.stderr}${r.stdout.slice(0, 300)}`;
        if (r.code !== 0) return false;
        rows = JSON.parse(r.stdout) as Row[];
        return failovers().some((x) => x.result === 'succeeded' && x.traceId === traceId);
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `tandem log on ${node} to have pool.failover ${POOL} succeeded with trace ${traceId}` },
    ).catch((err: Error) => assert.fail(`${err.message}; failover rows: ${JSON.stringify(failovers().slice(0, 6))} ${last}`));
    const human = await cli(['log', '--limit', '200']);
    assert.equal(human.code, 0, human.stderr);
    assert.ok(
      human.stdout.split('\n').some((l) => l.includes('pool.failover') && l.includes(traceId)),
      'the human table shows the trace id',
    );
  }

  /**
   * The failover is one trace, exported over OTLP as Jaeger would receive it: a root span
   * `pool failover` naming the pool and both nodes, and every phase as its child.
   */
  async function assertFailoverTrace(ev: FailedOver): Promise<void> {
    const phases = ['pool.import', 'ip.add', 'share.start', ...(ev.reason === 'node-down' ? ['detection', 'fence wait'] : ['ip.remove', 'pool.export'])];
    const { root, children } = await waitFor(
      () => {
        const spans = traces.trace(ev.traceId!);
        const root = spans.find((x) => x.name === 'pool failover' && x.parentSpanId === null);
        const children = root ? spans.filter((x) => x.parentSpanId === root.spanId) : [];
        const missing = phases.filter((name) => !children.some((c) => c.name === name));
        if (!root || missing.length > 0)
          throw new Error(`${root ? `missing child spans ${missing.join(', ')}` : 'no root span "pool failover"'}; got ${spans.map((x) => x.name).join(', ') || 'nothing'}`);
        return { root, children };
      },
      { timeoutMs: 15_000, intervalMs: 500, what: `trace ${ev.traceId}: a root span "pool failover" with every phase as its child` },
    );
    assert.deepEqual([root.attributes['tandem.pool'], root.attributes['tandem.from'], root.attributes['tandem.to'], root.attributes['tandem.reason']], [POOL, ev.from, ev.to, ev.reason]);
    assert.equal(root.service, 'tandem-resource-manager');
    assert.equal(root.node, ev.to, 'the receiving node ran the failover');
    for (const c of children.filter((x) => phases.includes(x.name))) assert.equal(c.attributes['tandem.pool'], POOL, `span ${c.name} names the pool`);
    if (ev.reason === 'node-down') {
      const detection = children.find((c) => c.name === 'detection')!;
      assert.ok(
        Math.abs(detection.endMs - detection.startMs - ev.timings.detectionMs) <= 5,
        `the detection span lasts the detection time (${detection.endMs - detection.startMs} vs ${ev.timings.detectionMs} ms)`,
      );
    }
  }

  // the services export their traces to this collector, over the admin network, as to Jaeger
  before(() =>
    setUpTwoNodeCluster(tb, traces, POOL, async (up) => {
      ({ status, nc } = up);
      host = new HostClient(nc);
      rmc = new ResourceManagerClient(nc);
      hb = new HeartbeatClient(nc);
      await host.call('node-a', 'dataset.create', { dataset: `${POOL}/files`, mode: '1777' });
      await rm('pool.attach', { pool: POOL, node: 'node-a', vips: [`cli0:${VIP}/24`], shares: [{ name: 'files', protocol: 'smb', path: 'files', guest: true }] });
      await tb.client(['mkdir', '-p', '/tmp/back']);
      await writeSynced('node-a');
      await assertServedOnlyOn('node-a');
    }),
  );

  after(async () => {
    await nc?.close().catch(() => undefined);
    await traces.stop();
    if (process.env.TANDEM_E2E_KEEP !== '1') await tb.down(); // TANDEM_E2E_KEEP=1: leave the testbed up to read its logs
  });

  /** The owner's client link goes down: the pool moves to the peer, whose client link is up. */
  async function clientLinkMove(): Promise<void> {
    const owner = (await pool()).node!;
    const peer = other(owner);
    await writeSynced(owner);
    await tb.cut(owner, 'client');
    try {
      await waitServedOn(peer, 30_000);
      await readAllBack(20_000);
      await assertServedOnlyOn(peer);
      const p = await pool();
      assert.ok((p.failedOn ?? []).includes(owner), 'marked failed on the old owner');
      const ev = await failedOverEvent(p.epoch);
      assert.deepEqual([ev.from, ev.to, ev.reason], [owner, peer, 'client-link-down']);
    } finally {
      await tb.heal(owner, 'client');
    }
    await markUsable(owner);
  }

  test("the owner's client link goes down: the pool moves to the node whose client link is up", clientLinkMove);

  test('the client link goes down again within the hold-down: the pool stays, an alarm says why', async () => {
    const owner = (await pool()).node!;
    const epoch = (await pool()).epoch;
    await tb.cut(owner, 'client');
    try {
      await waitFor(
        async () => {
          const alarms = (await rm('cluster.status', {})).failover?.alarms ?? [];
          if (!alarms.some((a) => a.includes('hold-down'))) throw new Error(`alarms: ${JSON.stringify(alarms)}`);
          return true;
        },
        { timeoutMs: 20_000, intervalMs: 500, what: 'a hold-down alarm in cluster status' },
      );
      const p = await pool();
      assert.deepEqual([p.state, p.node, p.epoch], ['serving', owner, epoch], 'nothing moved');
    } finally {
      await tb.heal(owner, 'client');
    }
  });

  test('the hold-down over, the client link goes down again: the pool moves again', async () => {
    const last = Date.parse((await pool()).lastFailoverAt ?? '');
    assert.ok(Number.isFinite(last), 'the last automatic move is recorded');
    // the hold-down counts from the recorded move (its end a moment on the clock, +1 s for the
    // nodes' clocks): nothing in the cluster says it is over until a move is held or not
    const holdDownOver = last + HOLD_DOWN_MS + 1_000;
    await waitFor(() => Date.now() >= holdDownOver, {
      timeoutMs: Math.max(0, holdDownOver - Date.now()) + 5_000,
      intervalMs: 250,
      what: `the hold-down of the last automatic move over (${new Date(holdDownOver).toISOString()})`,
    });
    await clientLinkMove();
  });

  for (const rep of [1, 2]) {
    test(`power-off of the owner (${rep}): the peer takes the pool over, the client reads everything back`, async () => {
      const owner = (await pool()).node!;
      const peer = other(owner);
      const epoch = (await pool()).epoch;
      await writeSynced(owner);
      await streamsLedByWitness();
      await tb.powerOff(owner);
      try {
        const readAfter = await readAllBack(30_000);
        process.stderr.write(`power-off ${rep}: client reading again ${Math.round(readAfter)} ms after the power cut\n`);
        // the record is read through the active resource-manager: if it ran on the dead node, a
        // standby answers after its lease lapsed (6 s)
        await waitServedOn(peer, 30_000);
        await assertServedOnlyOn(peer);
        const p = await pool();
        assert.ok(p.epoch > epoch, 'a new fencing epoch');
        assert.ok((p.failedOn ?? []).includes(owner), 'the pool failed on the old owner and will not go back by itself');
        const ev = await failedOverEvent(p.epoch);
        assert.deepEqual([ev.from, ev.to, ev.reason, ev.epoch], [owner, peer, 'node-down', p.epoch]);
        assert.ok(ev.timings.detectionMs >= HEARTBEAT_TIMEOUT_MS && ev.timings.totalMs >= ev.timings.detectionMs, JSON.stringify(ev.timings));
        await assertLoggedWithTrace(peer, ev.traceId!);
      } finally {
        await tb.powerOn(owner);
        await nodeBack(owner, 60_000);
        await markUsable(owner);
      }
      // the rebooted node imported nothing
      await assertServedOnlyOn(peer);
    });
  }

  for (const rep of [1, 2])
    test(`heartbeat link cut while both reach the witness (${rep}): nothing moves, an alarm is raised`, async () => {
      const owner = (await pool()).node!;
      const epoch = (await pool()).epoch;
      await tb.cut(owner, 'heartbeat');
      try {
        // twice as long as a peer takes over a silent owner: the peer still hears it over NATS,
        // its lease is still renewed, so nothing moves
        await holdsFor(
          2 * TAKEOVER_AFTER_MS,
          async () => {
            await assertServedOnlyOn(owner);
            assert.equal((await pool()).epoch, epoch, 'no new epoch: nothing moved');
          },
          'served by its owner alone, same epoch, while only the heartbeat link is cut',
        );
        // (a stream leader election answers UNAVAILABLE for a moment: rm asks again)
        const st = await rm('cluster.status', {});
        assert.ok(
          (st.failover?.alarms ?? []).some((a) => a.includes('suspect')),
          `an alarm in status: ${JSON.stringify(st.failover)}`,
        );
        await readAllBack(10_000);
      } finally {
        await tb.heal(owner, 'heartbeat');
      }
    });

  for (const rep of [1, 2])
    test(`the owner cut off from everything fences itself, the peer takes over (${rep})`, async () => {
      const owner = (await pool()).node!;
      const peer = other(owner);
      await writeSynced(owner);
      await streamsLedByWitness();
      await tb.cut(owner, 'heartbeat');
      await tb.cut(owner, 'admin');
      try {
        // from the owner's own namespaces: the pool is released and the IP gone, within the fence time
        const t0 = performance.now();
        await waitFor(
          async () => {
            const list = await tb.exec(owner, ['zpool', 'list', '-H', '-o', 'name'], { timeoutMs: 5_000 }).catch(() => null);
            const addrs = await tb.exec(owner, ['ip', '-o', 'addr', 'show', 'dev', 'cli0'], { timeoutMs: 5_000 }).catch(() => null);
            return !(list?.stdout ?? '').split('\n').includes(POOL) && !(addrs?.stdout ?? '').includes(` ${VIP}/`);
          },
          { timeoutMs: 6_000, intervalMs: 100, what: `${owner} to fence itself (pool exported, ${VIP} gone) within 6 s` },
        );
        process.stderr.write(`partition ${rep}: ${owner} fenced itself ${Math.round(performance.now() - t0)} ms after the cut\n`);
        await readAllBack(30_000);
        await waitServedOn(peer, 30_000);
        const ev = await failedOverEvent((await pool()).epoch);
        assert.deepEqual([ev.from, ev.to, ev.reason], [owner, peer, 'node-down']);
      } finally {
        await tb.heal(owner, 'admin');
        await tb.heal(owner, 'heartbeat');
      }
      // a node that fenced harder (its ZFS daemon killed) comes back like a rebooted one
      await tb.up({ nodes: 2 });
      await nodeBack(owner, 120_000);
      await rm('pool.get', { pool: POOL }, 120_000); // the control plane answers again (see markUsable)
      await assertServedOnlyOn(peer);
      await markUsable(owner);
    });

  for (const rep of [1, 2])
    test(`the owner's disks stop answering (${rep}): the pool is released there, fenced harder, and served by the peer`, async () => {
      const owner = (await pool()).node!;
      const peer = other(owner);
      const epoch = (await pool()).epoch;
      await writeSynced(owner);
      // every vdev I/O of the owner's ZFS fails from now on; the files stay intact for the peer
      await tb.diskFail(owner);
      try {
        await waitServedOn(peer, 45_000);
        await readAllBack(20_000);
        await assertServedOnlyOn(peer);
        const p = await pool();
        assert.ok(p.epoch > epoch, 'a new fencing epoch');
        assert.ok((p.failedOn ?? []).includes(owner), 'the pool failed on the old owner');
        const ev = await failedOverEvent(p.epoch);
        assert.deepEqual([ev.from, ev.to, ev.reason], [owner, peer, 'pool-faulted']);
      } finally {
        await tb.diskHeal(owner);
      }
      // the suspended pool never exported: the owner killed its ZFS daemon (the testbed's harder
      // fence); it comes back like a rebooted node, importing nothing
      await tb.up({ nodes: 2 });
      await rm('pool.get', { pool: POOL }, 120_000);
      await assertServedOnlyOn(peer);
      await markUsable(owner);
    });
  test('the witness is lost: nodes that hear each other keep their pools; then the owner powers off: nothing moves; both back, the pool lost on its rebooted owner moves to the peer', async () => {
    const owner = (await pool()).node!;
    const peer = other(owner);
    const epoch = (await pool()).epoch;
    await writeSynced(owner);
    await tb.powerOff('witness');
    let witnessOff = true;
    let ownerOff = false;
    try {
      // no lease can be renewed, but each node's heartbeats confirm the other: nobody fences
      await holdsFor(
        NOTHING_MOVES_MS,
        async () => {
          const h = await holders();
          assert.deepEqual([h.imported, h.ip], [[owner], [owner]], 'still served by its owner alone');
        },
        'the witness lost: nobody fences, nothing moves',
      );
      await readAllBack(10_000);
      // the owner lost too: the peer cannot tell whether it fenced itself, so it takes nothing
      await tb.powerOff(owner);
      ownerOff = true;
      await holdsFor(NOTHING_MOVES_MS, async () => assert.deepEqual((await holders()).imported, [], 'imported nowhere'), 'the owner and the witness gone: the peer takes nothing');
      // the owner first (were the witness back first, the peer would take the pool over from
      // the silent owner, as after any power-off)
      await tb.powerOn(owner);
      ownerOff = false;
      await tb.powerOn('witness');
      witnessOff = false;
    } finally {
      if (witnessOff) await tb.powerOn('witness');
      if (ownerOff) await tb.powerOn(owner);
    }
    // the rebooted owner imported nothing; the record still names it: the pool is lost there
    // and the peer takes it (the control plane may need a while after two servers came back)
    await assertLostPoolMovedTo(owner, peer, 120_000);
    assert.ok((await pool()).epoch > epoch, 'a new fencing epoch');
    await markUsable(owner);
  });
  test('maintenance mode: the owner powers off and nothing moves, status says why; maintenance over, the pool lost on the rebooted owner moves', async () => {
    const owner = (await pool()).node!;
    const peer = other(owner);
    const epoch = (await pool()).epoch;
    await writeSynced(owner);
    await rm('maintenance.set', { on: true });
    let ownerOff = false;
    try {
      await streamsLedByWitness();
      await tb.powerOff(owner);
      ownerOff = true;
      await holdsFor(NOTHING_MOVES_MS, async () => assert.deepEqual((await holders()).imported, [], 'imported nowhere'), "maintenance mode: the lost owner's pool moves nowhere");
      const st = await rm('cluster.status', {}, 60_000);
      assert.match(st.failover?.declined ?? '', /maintenance/, `status says why: ${JSON.stringify(st.failover)}`);
      assert.equal((await pool()).epoch, epoch, 'no new epoch');
      await tb.powerOn(owner);
      ownerOff = false;
      // the rebooted owner imported nothing, and maintenance still holds everything: from the
      // moment its host-executor answers, its heartbeat reports its pools within one local health
      // check, and without maintenance the pool would be lost there POOL_LOST_AFTER_MS later, and move
      await nodeBack(owner, 60_000);
      await holdsFor(
        LOCAL_HEALTH_INTERVAL_MS + POOL_LOST_AFTER_MS,
        async () => assert.deepEqual((await holders()).imported, [], 'imported nowhere'),
        'maintenance mode: the pool lost on the rebooted owner moves nowhere',
      );
    } finally {
      if (ownerOff) await tb.powerOn(owner);
      await rm('maintenance.set', { on: false }, 120_000);
    }
    await assertLostPoolMovedTo(owner, peer, 60_000);
    await markUsable(owner);
  });
});
