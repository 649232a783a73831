import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILOVER_TIMINGS as T, type ClusterRecord, type LocalHealth, type PeerReport } from '@tandem/contracts';
import { poolRecord } from './spec-fixtures';
import { DEFAULT_FAILOVER_SETTINGS, FailoverDecider, NO_WITNESS, type ClusterSnapshot } from './failover-decider';

/*
 * The failover decision of node `a`, fed snapshots on a fake monotonic clock: exact decisions,
 * as the running resource-manager calls them (FailoverService: assess, then plan).
 */
const TIMEOUT = 3_000;
const DOWN_FOR = TIMEOUT + T.downForMs; // silence after which a peer may be taken over

const pool = poolRecord;
const cluster = (ids: string[], over: Partial<ClusterRecord> = {}): ClusterRecord => ({
  id: 'tandem',
  heartbeatInterface: 'hb0',
  maintenance: false,
  createdAt: '',
  nodes: ids.map((id) => ({ id, heartbeatAddress: null, adminState: 'online', joinedAt: '' })),
  ...over,
});
const peer = (id: string, state: PeerReport['state'], silentMs = 0): PeerReport => ({
  peer: id,
  state,
  stateForMs: 0,
  channels: { udp: silentMs, nats: silentMs },
  adminState: 'online',
  heartbeatAddress: null,
  confirmedSentMsAgo: null,
});
const healthy = (pools: string[] = []): LocalHealth => ({ clientLink: 'up', pools: pools.map((name) => ({ name, health: 'ONLINE' })), services: {} });

function snapshot(at: number, over: Partial<ClusterSnapshot> = {}): ClusterSnapshot {
  return {
    at,
    wallAt: 1_000_000 + at,
    me: 'a',
    cluster: cluster(['a', 'b']),
    heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'up')] },
    health: new Map(),
    leases: new Map([['b', { revision: 7, since: at - 60_000 }]]),
    witness: true,
    pools: [],
    ...over,
  };
}

const decider = (holdDownMs = 120_000) => new FailoverDecider({ ...DEFAULT_FAILOVER_SETTINGS, holdDownMs });

/** assess + plan, as the service runs them (the snapshot's pools are taken as fresh). */
function round(d: FailoverDecider, s: ClusterSnapshot) {
  const a = d.assess(s);
  if (!a) return null;
  if (a.kind === 'nothing') return { status: a.status, takeovers: [], giveUps: [] };
  return d.plan(s, a);
}

test('a node that is not an online member, or cannot ask its heartbeat service, decides nothing', () => {
  assert.equal(decider().assess(snapshot(0, { cluster: null })), null);
  assert.equal(decider().assess(snapshot(0, { cluster: cluster(['b']) })), null, 'not a member');
  assert.equal(
    decider().assess(snapshot(0, { cluster: { ...cluster(['a', 'b']), nodes: cluster(['a', 'b']).nodes.map((n) => (n.id === 'a' ? { ...n, adminState: 'offline' as const } : n)) } })),
    null,
    'offline',
  );
  assert.equal(decider().assess(snapshot(0, { heartbeat: null })), null);
});

test('all peers up and nobody reporting trouble: nothing to do, no alarm', () => {
  assert.deepEqual(round(decider(), snapshot(0, { pools: [pool('tank', 'b')] })), { status: { declined: null, alarms: [], witness: true }, takeovers: [], giveUps: [] });
});

test('heartbeat timings that break the fencing invariant decline every automatic move', () => {
  const r = round(decider(), snapshot(0, { heartbeat: { timeoutMs: 900, peers: [peer('b', 'down', 60_000)] }, pools: [pool('tank', 'b')] }));
  assert.match(r?.status.declined ?? '', /^unsafe failover timings \(heartbeat timeout 900 ms\)/);
  assert.deepEqual(r?.takeovers, []);
});

test('a silent owner whose lease stood still long enough is taken over by the least loaded node, forced, with its silence for the trace', () => {
  const s = snapshot(100_000, {
    cluster: cluster(['a', 'b', 'c']),
    heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'down', DOWN_FOR + 100), peer('c', 'up')] },
    leases: new Map([
      ['b', { revision: 7, since: 100_000 - T.takeoverAfterMs }],
      ['c', { revision: 9, since: 99_900 }],
    ]),
    pools: [pool('t1', 'b'), pool('t2', 'b'), pool('y', 'a')],
  });
  const r = round(decider(), s);
  assert.deepEqual(r?.status, { declined: null, alarms: [], witness: true });
  // t1 to c (a runs y, c nothing), then t2 to a (a tie, broken by id): a carries out t2 only
  assert.deepEqual(r?.takeovers, [{ decision: { pool: 't2', action: 'failover', from: 'b', to: 'a', reason: 'node-down', force: true }, ownerSilentMs: DOWN_FOR + 100, heartbeatTimeoutMs: TIMEOUT }]);
});

test('a silent owner whose lease moved lately is still fencing itself: nothing moves, no alarm; without the witness, declined', () => {
  const base = { heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'down', DOWN_FOR + 100)] }, pools: [pool('tank', 'b')] };
  const fencing = snapshot(50_000, { ...base, leases: new Map([['b', { revision: 8, since: 50_000 - T.takeoverAfterMs + 1 }]]) });
  assert.deepEqual(round(decider(), fencing), { status: { declined: null, alarms: [], witness: true }, takeovers: [], giveUps: [] });
  const noWitness = snapshot(50_000, { ...base, witness: false, leases: new Map() });
  assert.deepEqual(round(decider(), noWitness), { status: { declined: NO_WITNESS, alarms: [], witness: false }, takeovers: [], giveUps: [] });
  // silence shorter than timeout + downForMs: not yet, however still the lease
  const early = snapshot(50_000, { ...base, heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'down', DOWN_FOR - 1)] } });
  assert.deepEqual(round(decider(), early)?.takeovers, []);
});

test('a peer only suspect (one channel silent) is alive: an alarm, nothing moves', () => {
  const r = round(decider(), snapshot(0, { heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'suspect', 3_500)] }, pools: [pool('tank', 'b')] }));
  assert.deepEqual(r, { status: { declined: null, alarms: ['node b is suspect: some heartbeat channel is silent, nothing moves'], witness: true }, takeovers: [], giveUps: [] });
});

test('maintenance mode declines the move and says so', () => {
  const s = snapshot(100_000, { cluster: cluster(['a', 'b'], { maintenance: true }), heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'down', 10_000)] }, pools: [pool('tank', 'b')] });
  const r = round(decider(), s);
  assert.match(r?.status.declined ?? '', /maintenance/);
  assert.deepEqual(r?.takeovers, []);
});

test('a live owner whose client link is down hands the pool over (not forced); held down after an automatic move', () => {
  const linkDown: LocalHealth = { ...healthy(['tank']), clientLink: 'down' };
  const s = snapshot(0, {
    health: new Map([
      ['b', { local: linkDown, at: 0 }],
      ['a', { local: healthy(), at: 0 }],
    ]),
    pools: [pool('tank', 'b')],
  });
  assert.deepEqual(
    round(decider(), s)?.takeovers.map((t) => t.decision),
    [{ pool: 'tank', action: 'failover', from: 'b', to: 'a', reason: 'client-link-down', force: false }],
  );
  const recentlyMoved = { ...s, pools: [pool('tank', 'b', { lastFailoverAt: new Date(s.wallAt - 10_000).toISOString() })] };
  const held = round(decider(60_000), recentlyMoved);
  assert.deepEqual(held?.takeovers, []);
  assert.match(held?.status.alarms.join() ?? '', /pool tank stays on b \(client-link-down\): moved automatically 10 s ago \(hold-down 60 s\)/);
});

test('a pool recorded on a node that says it has not imported it is lost there after 6 s, then moves', () => {
  const d = decider();
  const at = (t: number) => snapshot(t, { health: new Map([['b', { local: healthy([]), at: t }]]), pools: [pool('tank', 'b')] });
  assert.deepEqual(round(d, at(0))?.takeovers, [], 'first seen serving');
  assert.deepEqual(round(d, at(1_000))?.takeovers, [], 'missing since 1 s');
  assert.deepEqual(round(d, at(6_999))?.takeovers, []);
  assert.deepEqual(
    round(d, at(7_000))?.takeovers.map((t) => [t.decision.reason, t.decision.to]),
    [['pool-lost', 'a']],
  );
});

test('a lost node leaves a pool with nowhere to go: the first healthy node records it inactive once the view held 2 s', () => {
  const d = decider();
  const down = (t: number) =>
    snapshot(t, {
      heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'down', 10_000)] },
      leases: new Map([['b', { revision: 7, since: t - 10_000 }]]),
      pools: [pool('tank', 'b', { failedOn: ['a'] })],
    });
  assert.deepEqual(round(d, down(0))?.giveUps, []);
  assert.deepEqual(round(d, down(1_999))?.giveUps, []);
  const r = round(d, down(2_000));
  assert.deepEqual(
    r?.giveUps.map((g) => [g.decision.pool, g.decision.action, g.decision.reason]),
    [['tank', 'inactive', 'node-down']],
  );
  // the view broke in between (b heard again): the wait starts over
  const d2 = decider();
  round(d2, down(0));
  round(d2, snapshot(1_000, { pools: [pool('tank', 'b', { failedOn: ['a'] })] }));
  assert.deepEqual(round(d2, down(2_500))?.giveUps, [], 'only 0 ms since seen without a node again');
  assert.equal(round(d2, down(4_500))?.giveUps.length, 1);
});

test('only the first healthy node by id gives a pool up (the others would write the same)', () => {
  const s = (me: string, t: number) =>
    snapshot(t, {
      me,
      cluster: cluster(['a', 'b', 'c']),
      heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'down', 10_000), peer(me === 'a' ? 'c' : 'a', 'up')] },
      leases: new Map([['b', { revision: 7, since: t - 10_000 }]]),
      pools: [pool('tank', 'b', { failedOn: ['a', 'c'] })],
    });
  const c = decider();
  round(c, s('c', 0));
  assert.deepEqual(round(c, s('c', 3_000))?.giveUps, []);
  const a = decider();
  round(a, s('a', 0));
  assert.equal(round(a, s('a', 3_000))?.giveUps.length, 1);
});

test('a peer waiting out its fence time: the assessment says when it may be taken over (the later of silence and lease stillness), and then it is', () => {
  const d = decider();
  const at = 50_000;
  // silent for DOWN_FOR - 500: the silence condition is met at at + 500
  const waiting = (leaseSince: number, now = at, silent = DOWN_FOR - 500) =>
    snapshot(now, { heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'down', silent)] }, pools: [pool('tank', 'b')], leases: new Map([['b', { revision: 8, since: leaseSince }]]) });
  // the lease moved 1 s ago: its stillness decides, at since + takeoverAfterMs
  const a = d.assess(waiting(at - 1_000));
  assert.equal(a?.kind, 'nothing');
  assert.equal(a?.kind === 'nothing' && a.nextLookAt, at - 1_000 + T.takeoverAfterMs);
  // the lease stood still long ago: the silence decides
  const b = d.assess(waiting(at - 60_000));
  assert.equal(b?.kind === 'nothing' && b.nextLookAt, at + 500);
  // at that instant, the peer is taken over
  const due = at - 1_000 + T.takeoverAfterMs;
  assert.deepEqual(
    round(d, waiting(at - 1_000, due, DOWN_FOR - 500 + (due - at)))?.takeovers.map((t) => [t.decision.pool, t.decision.to]),
    [['tank', 'a']],
  );
  // a lease never seen: nothing to time (only a read can tell); all peers up: nobody waiting
  const unseen = d.assess(snapshot(at, { heartbeat: { timeoutMs: TIMEOUT, peers: [peer('b', 'down', DOWN_FOR - 500)] }, pools: [pool('tank', 'b')], leases: new Map() }));
  assert.equal(unseen?.kind === 'nothing' && unseen.nextLookAt, null);
  const calm = d.assess(snapshot(at));
  assert.equal(calm?.kind === 'nothing' && calm.nextLookAt, null);
});
