import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILOVER_TIMINGS, type ClusterRecord, type FailoverStatus, type HaPool } from '@tandem/contracts';
import type { ClusterSnapshot, FailoverRound } from '@tandem/domain';
import { waitFor } from '@tandem/util';
import { FailoverService } from './failover.service';

/*
 * One round of the failover loop on its seams: a fake observer that hands out snapshots and fresh
 * records, a status board and an executor that record what they were given. The decision in
 * between is the real one (libs/domain).
 */
const cluster: ClusterRecord = {
  id: 'tandem',
  heartbeatInterface: 'hb0',
  maintenance: false,
  createdAt: '',
  nodes: ['a', 'b'].map((id) => ({ id, heartbeatAddress: null, adminState: 'online' as const, joinedAt: '' })),
};
const pool = (node: string, epoch = 1): HaPool => ({ name: 'tank', state: 'serving', node, operation: null, reason: null, vips: [], shares: [], fc: true, epoch, mountpoint: null, updatedAt: '' });
const peerB = (state: 'up' | 'down', silentMs: number) => ({
  peer: 'b',
  state,
  stateForMs: 0,
  channels: { udp: silentMs, nats: silentMs },
  adminState: 'online' as const,
  heartbeatAddress: null,
  confirmedSentMsAgo: null,
});

function loop(snapshot: ClusterSnapshot, fresh: HaPool[]) {
  const boards: Array<{ status: FailoverStatus; pools: string[] }> = [];
  const rounds: FailoverRound[] = [];
  const refreshed: string[][] = [];
  const service = new FailoverService(
    { failover: { heartbeatTimeoutMs: 3_000, timings: FAILOVER_TIMINGS }, holdDownMs: 120_000, hookTimeoutMs: 30_000, database: { url: 'postgres://unused' } },
    { observe: async () => snapshot, withFreshPools: async (s, nodes) => (refreshed.push([...nodes]), { ...s, pools: fresh }) },
    { carryOut: async (r) => void rounds.push(r) },
    { update: (status, pools) => void boards.push({ status, pools }) },
  );
  return { service, boards, rounds, refreshed };
}

const base = (over: Partial<ClusterSnapshot>): ClusterSnapshot => ({
  at: 100_000,
  wallAt: Date.now(),
  me: 'a',
  cluster,
  heartbeat: { timeoutMs: 3_000, peers: [peerB('up', 0)] },
  health: new Map(),
  leases: new Map([['b', { revision: 3, since: 0 }]]),
  witness: true,
  pools: [pool('b')],
  ...over,
});

test('a calm cluster: the board says so, nothing is read again, nothing is carried out', async () => {
  const l = loop(base({}), []);
  await l.service.tick();
  assert.deepEqual(l.boards, [{ status: { declined: null, alarms: [], witness: true }, pools: [] }]);
  assert.deepEqual([l.refreshed, l.rounds], [[], []]);
});

test('a lost owner: the troubled pools are read fresh, the decision is made on the fresh records and carried out', async () => {
  const l = loop(base({ heartbeat: { timeoutMs: 3_000, peers: [peerB('down', 4_000)] } }), [pool('b', 2)]);
  await l.service.tick();
  assert.deepEqual(l.refreshed, [['b']]);
  assert.equal(l.rounds.length, 1);
  assert.deepEqual(
    l.rounds[0].takeovers.map((t) => [t.decision.pool, t.decision.from, t.decision.to, t.ownerSilentMs]),
    [['tank', 'b', 'a', 4_000]],
  );
  assert.deepEqual(
    l.boards.map((b) => b.status.declined),
    [null],
  );
});

test('a pool that the fresh read shows already moved is not taken over', async () => {
  const l = loop(base({ heartbeat: { timeoutMs: 3_000, peers: [peerB('down', 4_000)] } }), [pool('a', 2)]);
  await l.service.tick();
  assert.deepEqual(l.rounds[0].takeovers, []);
});

test('no heartbeat view of its own: the node decides nothing and changes nothing', async () => {
  const l = loop(base({ heartbeat: null }), []);
  await l.service.tick();
  assert.deepEqual([l.boards, l.rounds], [[], []]);
});

test('a lost owner still within its fence time: the loop looks again at the instant it may be taken over, not a round later, and takes it over then', async (t) => {
  // the lease stood still since now: due at now + takeoverAfterMs; the silence is long over
  const since = performance.now() - FAILOVER_TIMINGS.takeoverAfterMs + 40;
  const observedAt: number[] = [];
  const rounds: FailoverRound[] = [];
  const service = new FailoverService(
    { failover: { heartbeatTimeoutMs: 3_000, timings: FAILOVER_TIMINGS }, holdDownMs: 120_000, hookTimeoutMs: 30_000, database: { url: 'postgres://unused' } },
    {
      observe: async () => {
        const at = performance.now();
        observedAt.push(at);
        return base({ at, heartbeat: { timeoutMs: 3_000, peers: [peerB('down', 4_000)] }, leases: new Map([['b', { revision: 3, since }]]) });
      },
      withFreshPools: async (s) => s,
    },
    { carryOut: async (r) => void rounds.push(r) },
    { update: () => undefined },
  );
  t.after(() => service.onApplicationShutdown());
  // no timer of its own (onModuleInit is not called): only the timed look can bring a second round
  await service.tick();
  assert.equal(rounds.length, 0, 'not yet: the lease has not stood still long enough');
  await waitFor(() => rounds.length > 0, { timeoutMs: 5_000, intervalMs: 5, what: 'the timed round' });
  const last = observedAt[observedAt.length - 1];
  assert.ok(last >= since + FAILOVER_TIMINGS.takeoverAfterMs, `the look that took it over at ${last}, due ${since + FAILOVER_TIMINGS.takeoverAfterMs}`);
  assert.deepEqual(
    rounds[0].takeovers.map((x) => [x.decision.pool, x.decision.to]),
    [['tank', 'a']],
  );
});

test('a round asked for while one runs follows it at once (a timed look is never dropped)', async () => {
  let release: () => void = () => undefined;
  let observed = 0;
  const service = new FailoverService(
    { failover: { heartbeatTimeoutMs: 3_000, timings: FAILOVER_TIMINGS }, holdDownMs: 120_000, hookTimeoutMs: 30_000, database: { url: 'postgres://unused' } },
    {
      observe: async () => {
        if (++observed === 1) await new Promise<void>((r) => (release = r));
        return base({});
      },
      withFreshPools: async (s) => s,
    },
    { carryOut: async () => undefined },
    { update: () => undefined },
  );
  const first = service.tick();
  await waitFor(() => observed === 1, { timeoutMs: 2_000, intervalMs: 5, what: 'the first round observing' });
  await service.tick(); // returns at once: a round is running
  assert.equal(observed, 1);
  release();
  await first;
  await waitFor(() => observed === 2, { timeoutMs: 2_000, intervalMs: 5, what: 'the round asked for meanwhile' });
});
