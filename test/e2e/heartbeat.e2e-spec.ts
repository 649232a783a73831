import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { EVENTS_STREAM, Events, heartbeatSubject, heartbeatViewSchema, type EventEnvelope, type HeartbeatView, type PeerReport, type RmOperation, type RmOpRequest } from '@tandem/contracts';
import { HeartbeatClient, ResourceManagerClient, retryWhileUnavailable, waitForStreamLeader } from '@tandem/messaging';
import { Testbed, type TestbedStatus, testbedNatsOptions } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { encodePacket, heartbeatKey } from '@tandem/contracts';
import { readable } from '../support/failure-logs';
import { HEARTBEAT_TIMEOUT_MS } from '../support/timings';
import { holdsFor } from '../support/wait';

type State = PeerReport['state'];
type PeerEntry = PeerReport;
/** GET /health/peers answers the heartbeat view without the sequence number of a NATS ping. */
const httpViewSchema = heartbeatViewSchema.omit({ seq: true });
type View = Omit<HeartbeatView, 'seq'>;
type LivenessEvent = EventEnvelope<{ observer: string; peer: string; previous: State; channels: PeerReport['channels'] }>;

const TIMEOUT_MS = HEARTBEAT_TIMEOUT_MS; // the default TANDEM_HEARTBEAT_TIMEOUT_MS the testbed runs with
const PORT = 5405;

/**
 * Failure detection on the testbed: two nodes hear each other over UDP on the heartbeat network
 * and over the NATS cluster (routed over the admin network). Losing one network makes a peer
 * suspect, never down; losing the node makes it down within the timeout; forged, stray and
 * replayed heartbeats count for nothing.
 */
describe('heartbeat: peer liveness over UDP and NATS (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  let status: TestbedStatus;
  let nc: NatsConnection;
  const events: LivenessEvent[] = [];
  /** The last genuine heartbeat of node-b seen on NATS: the material of a replay. */
  let capturedFromB: Uint8Array | null = null;
  const cutNow = new Set<string>();

  const nodeByName = (name: string) => {
    const n = status.nodes.find((x) => x.name === name);
    assert.ok(n, `node ${name} in status`);
    return n;
  };

  /** GET /health/peers of a node's heartbeat: over the admin network, or from inside the node while its admin link is cut. */
  async function view(node: string): Promise<View> {
    if (cutNow.has(`${node}/admin`)) {
      const script = `fetch('http://127.0.0.1:9102/health/peers',{signal:AbortSignal.timeout(2000)}).then(r=>r.text()).then(t=>process.stdout.write(t),()=>process.exit(1))`;
      const r = await tb.exec(node, [process.execPath, '-e', script], { timeoutMs: 10_000 });
      assert.equal(r.exitCode, 0, `heartbeat of ${node} answers from inside: ${r.stderr}`);
      return httpViewSchema.parse(JSON.parse(r.stdout));
    }
    const res = await fetch(`http://${nodeByName(node).addresses.admin}:9102/health/peers`, { signal: AbortSignal.timeout(2_000) });
    assert.equal(res.status, 200);
    return httpViewSchema.parse(await res.json());
  }

  const peerIn = (v: View, peer: string): PeerEntry => {
    const p = v.peers.find((x) => x.peer === peer);
    assert.ok(p, `${v.node} watches ${peer}: ${JSON.stringify(v.peers)}`);
    return p;
  };

  /** Both nodes see each other in `state`, checked by `check` on each side's view. */
  async function bothSee(state: State, timeoutMs: number, check: (p: PeerEntry) => boolean = () => true): Promise<[PeerEntry, PeerEntry]> {
    return waitFor(
      async () => {
        const a = peerIn(await view('node-a'), 'node-b');
        const b = peerIn(await view('node-b'), 'node-a');
        if (a.state === state && b.state === state && check(a) && check(b)) return [a, b] as [PeerEntry, PeerEntry];
        throw new Error(JSON.stringify({ a, b }));
      },
      { timeoutMs, intervalMs: 100, what: `node-a and node-b to see each other ${state}` },
    );
  }

  const cl = <O extends RmOperation>(op: O, req: RmOpRequest<O>) => new ResourceManagerClient(nc).call(op, req, 60_000);

  // right after start-up the resource-manager lease may not be taken yet
  const rmWhenReady = <T>(call: () => Promise<T>) => retryWhileUnavailable(call, { waitForMs: 15_000 });

  /** Send raw datagrams from the client namespace to node-a's heartbeat address. */
  async function sendFromClient(packets: Uint8Array[]): Promise<void> {
    const a = nodeByName('node-a');
    const script = `
      const s = require('node:dgram').createSocket('udp4');
      const [list, addr, port] = process.argv.slice(1);
      const bufs = list.split(',').map((h) => Buffer.from(h, 'hex'));
      let n = 0;
      for (const b of bufs) s.send(b, Number(port), addr, (e) => { if (e) { console.error(e.message); process.exit(1); } if (++n === bufs.length) s.close(); });`;
    // the client network reaches node-a's heartbeat address through node-a's client address
    const route = ['ip', 'route', 'replace', `${a.addresses.heartbeat}/32`, 'via', a.addresses.client!];
    assert.equal((await tb.client(route)).exitCode, 0, 'route from the client namespace');
    try {
      const r = await tb.client([process.execPath, '-e', script, packets.map((p) => Buffer.from(p).toString('hex')).join(','), a.addresses.heartbeat!, String(PORT)]);
      assert.equal(r.exitCode, 0, `sent from the client namespace: ${r.stderr}`);
    } finally {
      await tb.client(['ip', 'route', 'del', `${a.addresses.heartbeat}/32`]);
    }
  }

  before(async () => {
    status = await tb.up({ nodes: 2 });
    // not through node-b's server: node-b is cut off and powered off below
    const servers = status.nodes.filter((n) => n.name === 'node-a' || n.name === 'witness').map((n) => n.nats!);
    nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, ...testbedNatsOptions(status.root) });
    nc.subscribe('tandem.evt.node.*.*', {
      callback: (_e, m) => {
        const env = JSON.parse(new TextDecoder().decode(m.data)) as LivenessEvent;
        if ([Events.nodeUp.schema, Events.nodeSuspect.schema, Events.nodeDown.schema].includes(env.schema)) events.push(env);
      },
    });
    nc.subscribe(heartbeatSubject('node-b'), { callback: (_e, m) => (capturedFromB = Uint8Array.from(m.data)) });
    await nc.flush();
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await tb.down();
  });

  test('without a cluster the heartbeat runs idle: no peers, no socket', async () => {
    const v = await view('node-a');
    assert.equal(v.cluster, null);
    assert.deepEqual(v.peers, []);
    assert.equal(v.channels.udp.bound, null);
  });

  test('cluster formed: each node hears the other on both channels, and says so', async () => {
    await rmWhenReady(() => cl('cluster.create', { node: 'node-a', heartbeatInterface: 'hb0' }));
    await cl('cluster.join', { node: 'node-b' });
    const t0 = Date.now();
    const fresh = (p: PeerEntry) => p.channels.udp !== null && p.channels.udp <= 1_000 && p.channels.nats !== null && p.channels.nats <= 1_000;
    await bothSee('up', 15_000, fresh);
    process.stderr.write(`[heartbeat e2e] both up on both channels ${Date.now() - t0} ms after the join\n`);
    const a = await view('node-a');
    assert.equal(a.channels.udp.bound, nodeByName('node-a').addresses.heartbeat, 'bound on the heartbeat address only');
    assert.equal(a.channels.udp.port, PORT);
    assert.deepEqual(a.cluster, { id: 'testbed', member: true });
    assert.ok(a.channels.udp.accepted > 0 && a.channels.nats.accepted > 0);
    await waitFor(() => ['node-a', 'node-b'].every((o) => events.some((e) => e.schema === Events.nodeUp.schema && e.data.observer === o)), {
      timeoutMs: 5_000,
      intervalMs: 100,
      what: 'an up event from each observer',
    });
    const upB = events.find((e) => e.schema === Events.nodeUp.schema && e.data.observer === 'node-a')!;
    assert.equal(upB.entity.id, 'node-b');
    assert.equal(upB.data.peer, 'node-b');
    assert.equal(upB.clusterId, 'testbed');
  });

  test('the liveness ping still answers node, seq, uptimeMs, now with peers and local health', async () => {
    const ask = () => new HeartbeatClient(nc).view('node-a', 2_000);
    const r1 = await ask();
    const r2 = await ask();
    assert.equal(r1.node, 'node-a');
    assert.ok(r2.seq > r1.seq && r2.uptimeMs >= r1.uptimeMs);
    assert.equal(peerIn(r2, 'node-b').state, 'up');
    const local = await waitFor(
      async () => {
        const l = (await view('node-a')).local;
        return l && l.clientLink === 'up' && Object.values(l.services).every((s) => s === 'ready') ? l : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'local health of node-a: client link up, every service ready' },
    );
    assert.deepEqual(Object.keys(local.services).sort(), ['api-gateway', 'host-executor', 'replication-scheduler', 'resource-manager']);
    assert.deepEqual(local.pools, []);
    const jsm = await nc.jetstreamManager();
    // the new cluster's resource-manager moves stream leadership to the witness: a read during
    // that election answers 503, and is asked again
    const stored = await waitFor(() => jsm.streams.getMessage(EVENTS_STREAM.name, { last_by_subj: 'tandem.evt.node.node-a.health-changed' }), {
      timeoutMs: 15_000,
      intervalMs: 250,
      what: 'the stored health-changed event of node-a',
    });
    assert.equal((JSON.parse(new TextDecoder().decode(stored.data)) as EventEnvelope).schema, Events.nodeHealthChanged.schema);
  });

  test('heartbeat network cut: each sees the other suspect (NATS still heard), never down; healed: up', async () => {
    const before = events.length;
    await tb.cut('node-b', 'heartbeat');
    try {
      await bothSee('suspect', TIMEOUT_MS + 5_000, (p) => p.channels.udp !== null && p.channels.udp >= TIMEOUT_MS && p.channels.nats !== null && p.channels.nats < TIMEOUT_MS / 2);
      // stay on until UDP has been silent for twice the timeout: down would have come by now
      await waitFor(
        async () => {
          const [a, b] = await Promise.all([view('node-a'), view('node-b')]);
          for (const p of [peerIn(a, 'node-b'), peerIn(b, 'node-a')]) assert.equal(p.state, 'suspect', `never down while NATS is heard: ${JSON.stringify(p)}`);
          return [peerIn(a, 'node-b'), peerIn(b, 'node-a')].every((p) => (p.channels.udp ?? 0) >= 2 * TIMEOUT_MS);
        },
        { timeoutMs: 2 * TIMEOUT_MS + 5_000, intervalMs: 200, what: 'UDP silent for twice the timeout, the peer still suspect' },
      );
    } finally {
      await tb.heal('node-b', 'heartbeat');
    }
    await bothSee('up', 10_000, (p) => (p.channels.udp ?? Infinity) <= 1_000);
    const during = events.slice(before);
    assert.ok(!during.some((e) => e.schema === Events.nodeDown.schema), `no down event: ${JSON.stringify(during.map((e) => [e.data.observer, e.schema]))}`);
    await waitFor(
      () => {
        const got = events.slice(before);
        const has = (schema: string, observer: string) => got.some((e) => e.schema === schema && e.data.observer === observer);
        return has(Events.nodeSuspect.schema, 'node-a') && has(Events.nodeSuspect.schema, 'node-b') && has(Events.nodeUp.schema, 'node-a') && has(Events.nodeUp.schema, 'node-b');
      },
      { timeoutMs: 5_000, intervalMs: 100, what: 'suspect and up events from both observers' },
    );
  });

  test('admin network cut (the NATS routes): suspect over UDP alone, never down; healed: up', async () => {
    await tb.cut('node-b', 'admin');
    cutNow.add('node-b/admin');
    try {
      await bothSee('suspect', TIMEOUT_MS + 8_000, (p) => p.channels.udp !== null && p.channels.udp < TIMEOUT_MS / 2 && (p.channels.nats ?? Infinity) >= TIMEOUT_MS);
      await waitFor(
        async () => {
          const a = peerIn(await view('node-a'), 'node-b');
          assert.equal(a.state, 'suspect', `never down while UDP is heard: ${JSON.stringify(a)}`);
          return (a.channels.nats ?? 0) >= 2 * TIMEOUT_MS;
        },
        { timeoutMs: 2 * TIMEOUT_MS + 5_000, intervalMs: 200, what: 'NATS silent for twice the timeout, the peer still suspect' },
      );
    } finally {
      await tb.heal('node-b', 'admin');
      cutNow.delete('node-b/admin');
    }
    await bothSee('up', 20_000, (p) => (p.channels.nats ?? Infinity) <= 1_000);
  });

  test('node-b loses power: node-a reports it down within the timeout (≤ 5 s) and publishes node-b down', async () => {
    assert.ok(capturedFromB, 'a genuine heartbeat of node-b was seen on NATS');
    const before = events.length;
    // after the cuts above NATS may still be electing the leader of the events stream (for tens
    // of seconds on a healed route): start from the settled state the resource-manager keeps —
    // every replicated stream led by the witness — so the down event is stored when it is sent
    const settling = performance.now();
    await waitForStreamLeader(nc, 'witness', 90_000);
    process.stderr.write(`[heartbeat e2e] streams led by the witness after ${Math.round(performance.now() - settling)} ms\n`);
    const t0 = performance.now();
    let offAt: number | null = null;
    const off = tb.powerOff('node-b').then(() => (offAt = performance.now() - t0));
    // what node-a saw meanwhile, for the failure message: a late "down" is told apart from a
    // stalled observer (gaps between samples) and from a node-b still heard (small ages)
    const samples: string[] = [];
    const why = () => {
      const log = join(status.root, 'nodes', 'node-a', 'logs', 'heartbeat.log');
      const lines = existsSync(log) ? readFileSync(log, 'utf8').trimEnd().split('\n').slice(-25).map(readable).join('\n') : `(no ${log})`;
      return `power-off took ${offAt === null ? '?' : Math.round(offAt)} ms; node-a's view every poll (last 40): ${samples.slice(-40).join(' | ')}\nnode-a heartbeat log:\n${lines}`;
    };
    const detected = await waitFor(
      async () => {
        const p = peerIn(await view('node-a'), 'node-b');
        const ms = performance.now() - t0;
        samples.push(`${Math.round(ms)}ms ${p.state} udp=${p.channels.udp} nats=${p.channels.nats}`);
        return p.state === 'down' ? { ms, p } : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'node-a to report node-b down' },
    ).catch((err: Error) => assert.fail(`${err.message}; ${why()}`));
    await off;
    process.stderr.write(`[heartbeat e2e] node-b down seen by node-a ${Math.round(detected.ms)} ms after the power cut (timeout ${TIMEOUT_MS} ms)\n`);
    assert.ok(detected.ms <= 5_000, `detected after ${Math.round(detected.ms)} ms; ${why()}`);
    assert.ok(detected.ms >= TIMEOUT_MS - 600, `not before the timeout: ${Math.round(detected.ms)} ms`);
    assert.ok((detected.p.channels.udp ?? 0) >= TIMEOUT_MS && (detected.p.channels.nats ?? 0) >= TIMEOUT_MS);
    const down = await waitFor(() => events.slice(before).find((e) => e.schema === Events.nodeDown.schema && e.data.observer === 'node-a' && e.entity.id === 'node-b'), {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: 'tandem.evt.node.node-b.down from node-a',
    }).catch((err: Error) => assert.fail(`${err.message}; ${why()}`));
    assert.equal(down.data.peer, 'node-b');
    assert.ok((down.data.channels.udp ?? 0) >= TIMEOUT_MS && (down.data.channels.nats ?? 0) >= TIMEOUT_MS);
    // a retried publish (JetStream electing a new stream leader) repeats the same event id
    const ids = new Set(
      events
        .slice(before)
        .filter((e) => e.schema === Events.nodeDown.schema && e.data.observer === 'node-a')
        .map((e) => e.id),
    );
    assert.equal(ids.size, 1, 'reported once');
  });

  test('forged, stray and replayed heartbeats from the client network do not revive node-b', async () => {
    const secret = readFileSync(join(status.root, 'cluster-secret'), 'utf8').trim();
    const key = heartbeatKey(secret);
    const a0 = await view('node-a');
    assert.equal(peerIn(a0, 'node-b').state, 'down');
    const beat = { clusterId: 'testbed', from: 'node-b', incarnation: Date.now() * 2, seq: 1_000_000, sentMs: 1 };
    await sendFromClient([
      encodePacket(beat, heartbeatKey('a guess at the cluster secret')), // forged: bad MAC
      encodePacket({ ...beat, clusterId: 'other-cluster' }, key), // another cluster
      encodePacket({ ...beat, from: 'node-z' }, key), // a sender not in the cluster
      Buffer.from('stray datagram on the heartbeat port'),
      capturedFromB!, // a genuine heartbeat of node-b, replayed
    ]);
    nc.publish(heartbeatSubject('node-b'), capturedFromB!); // and replayed on NATS
    await nc.flush();
    const rejected = (v: View, ch: 'udp' | 'nats', reason: string) => (v.channels[ch].rejected[reason] ?? 0) - (a0.channels[ch].rejected[reason] ?? 0);
    const after = await waitFor(
      async () => {
        const v = await view('node-a');
        const ok = ['bad-mac', 'wrong-cluster', 'unknown-sender', 'malformed', 'replayed'].every((r) => rejected(v, 'udp', r) >= 1) && rejected(v, 'nats', 'replayed') >= 1;
        return ok ? v : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 100, what: 'node-a to count every bad heartbeat' },
    );
    assert.equal(after.channels.udp.accepted, a0.channels.udp.accepted, 'nothing accepted over UDP');
    assert.equal(after.channels.nats.accepted, a0.channels.nats.accepted, 'nothing accepted over NATS');
    // for one heartbeat interval after they were counted (node-a evaluates its peers several
    // times in it): an accepted one would have revived node-b by then
    await holdsFor(
      after.timings.intervalMs,
      async () => {
        const p = peerIn(await view('node-a'), 'node-b');
        assert.equal(p.state, 'down');
        assert.ok((p.channels.udp ?? 0) >= TIMEOUT_MS && (p.channels.nats ?? 0) >= TIMEOUT_MS, JSON.stringify(p));
      },
      'node-b stays down, silent on both channels, after the bad heartbeats',
    );
  });
});
