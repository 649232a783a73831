import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReplicaState, ReplicationPoolStatus, ReplicationSettingsResult } from '@tandem/contracts';
import { ApiError } from './client';
import { bootstrapDoneText, bootstrapEnd, bootstrapLines, fromNow, keyText, replicationStatusText, settingsText, watchBootstrap } from './replication';

const NOW = new Date('2026-01-01T10:00:00.000Z');
const schedule = { snapshotIntervalS: 900, retention: 24, pullIntervalS: 180, stallTimeoutS: 60 };

function replica(over: Partial<ReplicaState>): ReplicaState {
  return { state: 'waiting', reason: null, newestCommon: null, lagSeconds: null, lagBytes: null, lastTransfer: null, progress: null, failures: 0, nextPullAt: null, ...over };
}

function pool(name: string, replicas: Record<string, ReplicaState> | null, over: Partial<ReplicationPoolStatus> = {}): ReplicationPoolStatus {
  return {
    pool: name,
    active: 'node-a',
    direction: `node-a → ${Object.keys(replicas ?? {}).join(', ') || '(no passive)'}`,
    state: 'in-sync',
    message: null,
    possiblyMissingS: null,
    schedule,
    rollbackWindowS: 21_600,
    passiveDownLimitS: 21_600,
    replication: replicas && {
      pool: name,
      source: 'node-a',
      newestSnapshot: { name: 'tandem-20260101-095500', guid: '11', createdAt: '2026-01-01T09:55:00.000Z' },
      nextSnapshotAt: '2026-01-01T10:10:00.000Z',
      replicas,
      keepAsideOn: [],
      updatedAt: '2026-01-01T09:59:59.000Z',
    },
    ...over,
  };
}

const inSync = replica({
  state: 'in-sync',
  newestCommon: { name: 'tandem-20260101-095500', guid: '11', createdAt: '2026-01-01T09:55:00.000Z' },
  lagSeconds: 0,
  lagBytes: 0,
  lastTransfer: { kind: 'incremental', bytes: 1.2 * 2 ** 20, ms: 400, at: '2026-01-01T09:55:02.000Z', to: 'tandem-20260101-095500' },
  nextPullAt: '2026-01-01T10:01:10.000Z',
});
const bootstrapping = (bytes: number) => replica({ state: 'bootstrapping', reason: 'first synchronisation of this replica', progress: { bytes, total: 40 * 2 ** 20, dataset: 'tank' } });

test('settings: the schedule and the windows in human durations, the endpoints, warnings and notes', () => {
  const r: ReplicationSettingsResult = {
    pool: null,
    schedule,
    sshPort: 2222,
    sshAddresses: { 'node-b': '10.77.1.12', 'node-a': '10.77.1.11' },
    rollbackWindowS: 21_600,
    passiveDownLimitS: 21_600,
    warnings: ['the pull interval (10m) is longer than the snapshot interval (5m): passives will trail by more than one snapshot'],
    notes: ['pool tank: the new snapshot interval (5m) takes effect when the running timer next fires, at 2026-01-01T10:10:00.000Z'],
  };
  const lines = settingsText(r).trimEnd().split('\n');
  assert.deepEqual(lines, [
    'replication settings (cluster-wide)',
    '  snapshot interval:   15 min (on the active node)',
    '  retention:           24 snapshots',
    '  pull interval:       3 min (each passive node pulls what it misses)',
    '  stall timeout:       1 min (a transfer moving no byte this long is retried)',
    '  rollback window:     6 h (snapshot interval × retention: how far back a replica can be rolled)',
    '  passive-down limit:  6 h (a passive away longer needs a full resync)',
    '  ssh endpoints:       port 2222: node-a 10.77.1.11, node-b 10.77.1.12',
    'warning: the pull interval (10m) is longer than the snapshot interval (5m): passives will trail by more than one snapshot',
    'note: pool tank: the new snapshot interval (5m) takes effect when the running timer next fires, at 2026-01-01T10:10:00.000Z',
  ]);
  const own = settingsText({ ...r, pool: 'tank', schedule: { ...schedule, retention: 1, snapshotIntervalS: 90 }, rollbackWindowS: 90, warnings: [], notes: [], sshAddresses: {} });
  assert.match(own, /^replication settings of pool tank\n/);
  assert.match(own, /^ {2}snapshot interval: {3}1 min 30 s /m);
  assert.match(own, /^ {2}retention: {11}1 snapshot$/m);
  assert.match(own, /^ {2}ssh endpoints: {7}port 2222$/m);
  assert.doesNotMatch(own, /^(warning|note):/m);
});

test('status: a block per pool, a row per replica — lag, newest common snapshot, last transfer and rate, next pull; the transfer running now', () => {
  const text = replicationStatusText([pool('tank', { 'node-c': bootstrapping(12 * 2 ** 20), 'node-b': inSync }, { state: 'bootstrapping' })], NOW);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], 'pool tank  active node-a  direction node-a → node-c, node-b  state bootstrapping');
  assert.match(lines[1], /^next snapshot: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in 10 min\); every 15 min, keep 24, pull every 3 min; rollback window 6 h$/);
  assert.match(lines[2], /^ {2}REPLICA\s+STATE\s+LAG\s+NEWEST COMMON\s+LAST TRANSFER\s+NEXT PULL\s+NOTE$/);
  assert.match(lines[3], /^ {2}node-b\s+in-sync\s+0 s\s+tandem-20260101-095500 \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)\s+incremental 1\.2 MiB in 0\.4 s, 3\.0 MiB\/s\s+in 1 min 10 s$/);
  assert.match(lines[4], /^ {2}node-c\s+bootstrapping 12\.0 MiB of 40\.0 MiB \(30 %\)\s+-\s+-\s+-\s+-\s+first synchronisation of this replica$/);
  assert.equal(lines.length, 5);
  // Columns line up.
  const at = lines[2].indexOf('LAG');
  assert.match(lines[3].slice(at), /^0 s /);
  assert.match(lines[4].slice(at), /^- /);
});

test('status: a locked pool says so, with how much data may be missing; errors and failures are said', () => {
  const locked = pool(
    'backup',
    { 'node-a': replica({ state: 'locked' }) },
    { active: 'node-b', direction: 'node-b → node-a', state: 'locked', message: 'Failover occurred. Sync for backup is locked!', possiblyMissingS: 42 },
  );
  const failing = pool(
    'media',
    { 'node-b': replica({ state: 'error', reason: 'cannot reach 10.77.1.12:2222', failures: 3, nextPullAt: '2026-01-01T09:59:00.000Z' }) },
    { state: 'error', message: 'node-b: cannot reach 10.77.1.12:2222' },
  );
  const text = replicationStatusText([locked, failing, pool('new', null, { state: 'waiting' }), pool('lonely', {}, { state: 'waiting' })], NOW);
  const blocks = text.trimEnd().split('\n\n');
  assert.deepEqual(
    blocks.map((b) => b.split('\n')[0].split('  ')[0]),
    ['pool backup', 'pool lonely', 'pool media', 'pool new'],
    'sorted by pool',
  );
  const [backup, lonely, media, fresh] = blocks.map((b) => b.split('\n'));
  assert.equal(backup[0], 'pool backup  active node-b  direction node-b → node-a  state locked');
  assert.equal(backup[1], 'Failover occurred. Sync for backup is locked!');
  assert.equal(backup[2], 'data possibly missing: 42 s');
  assert.equal(backup[3], "look at the old active's copy, then resume with: tandem replication resume backup");
  assert.equal(media[1], 'error: node-b: cannot reach 10.77.1.12:2222');
  assert.match(media[4], /^ {2}node-b\s+error\s+-\s+-\s+-\s+due now\s+cannot reach 10\.77\.1\.12:2222; 3 failed attempts$/);
  assert.match(fresh.join('\n'), /next snapshot: -;/);
  assert.match(fresh.join('\n'), /no replication record yet/);
  assert.match(lonely.join('\n'), /no passive replica yet/);
  assert.match(replicationStatusText([], NOW), /^no replicated pools \(attach one with: tandem pool attach POOL --node NODE --replicated/);
});

test('relative times and keys', () => {
  assert.equal(fromNow('2026-01-01T10:04:10.000Z', NOW), 'in 4 min 10 s');
  assert.equal(fromNow('2026-01-01T09:59:59.000Z', NOW), 'due now');
  assert.equal(fromNow(null, NOW), '-');
  assert.equal(keyText('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyMaterialEndingHere0123 tandem@node-b'), 'ssh-ed25519 …alEndingHere0123');
});

test('bootstrap: over when every replica is in sync or failed, or the pool is locked; not before a replica is known', () => {
  assert.equal(bootstrapEnd(pool('tank', null)), null);
  assert.equal(bootstrapEnd(pool('tank', {})), null);
  assert.equal(bootstrapEnd(pool('tank', { 'node-b': bootstrapping(1) })), null);
  assert.equal(bootstrapEnd(pool('tank', { 'node-b': inSync, 'node-c': bootstrapping(1) })), null);
  assert.equal(bootstrapEnd(pool('tank', { 'node-b': inSync })), 'in-sync');
  assert.equal(bootstrapEnd(pool('tank', { 'node-b': inSync, 'node-c': replica({ state: 'error', reason: 'x' }) })), 'error');
  assert.equal(bootstrapEnd(pool('tank', { 'node-b': bootstrapping(1) }, { state: 'locked', message: 'Failover occurred. Sync for tank is locked!' })), 'locked');
  assert.deepEqual([...bootstrapLines(pool('tank', { 'node-b': bootstrapping(10 * 2 ** 20) })).values()], ['node-b: bootstrapping 10.0 MiB of 40.0 MiB (25 %)']);
  assert.deepEqual([...bootstrapLines(pool('tank', null)).values()], ['tank: waiting for the replication-scheduler to start the first sync']);
  assert.deepEqual([...bootstrapLines(pool('tank', { 'node-b': replica({ state: 'error', reason: 'no route' }) })).values()], ['node-b: error — no route']);
});

/** watchBootstrap on a fake clock: each fetch answers the next status (or throws it). */
function fake(answers: Array<ReplicationPoolStatus | Error>) {
  let t = 0;
  let i = 0;
  const lines: string[] = [];
  const sleeps: number[] = [];
  return {
    lines,
    sleeps,
    fetches: () => i,
    watch: {
      fetch: async () => {
        const a = answers[Math.min(i++, answers.length - 1)];
        if (a instanceof Error) throw a;
        return a;
      },
      onLine: (l: string) => void lines.push(l),
      sleep: async (ms: number) => {
        sleeps.push(ms);
        t += ms;
      },
      now: () => t,
    },
  };
}

const unavailable = new ApiError({ type: 'urn:tandem:error:UNAVAILABLE', title: 'UNAVAILABLE', status: 503, detail: 'no resource-manager answers replication.status' });

test('bootstrap: polled every second, one line per change, until every replica is in sync', async () => {
  const f = fake([
    pool('tank', null),
    pool('tank', null),
    unavailable,
    pool('tank', { 'node-b': bootstrapping(0) }),
    pool('tank', { 'node-b': bootstrapping(10 * 2 ** 20) }),
    pool('tank', { 'node-b': bootstrapping(10 * 2 ** 20) }),
    pool('tank', { 'node-b': bootstrapping(40 * 2 ** 20) }),
    pool('tank', { 'node-b': inSync }),
  ]);
  const o = await watchBootstrap(f.watch);
  assert.equal(o.end, 'in-sync');
  assert.equal(o.status?.replication?.replicas['node-b']?.state, 'in-sync');
  assert.equal(f.fetches(), 8);
  assert.deepEqual(f.sleeps, [1000, 1000, 1000, 1000, 1000, 1000, 1000]);
  assert.deepEqual(f.lines, [
    'tank: waiting for the replication-scheduler to start the first sync',
    '(status not available: no resource-manager answers replication.status)',
    'node-b: bootstrapping 0 B of 40.0 MiB (0 %)',
    'node-b: bootstrapping 10.0 MiB of 40.0 MiB (25 %)',
    'node-b: bootstrapping 40.0 MiB of 40.0 MiB (100 %)',
    'node-b: in-sync',
  ]);
  assert.match(bootstrapDoneText('tank', o, 7_000), /^tank: every replica is in sync \(first sync took 7\.0 s\)$/);
});

test('bootstrap: a failed replica or a lock ends it; 10 minutes end it too; other errors are thrown', async () => {
  const failed = await watchBootstrap(fake([pool('tank', { 'node-b': bootstrapping(1) }), pool('tank', { 'node-b': replica({ state: 'error', reason: 'stalled' }) })]).watch);
  assert.equal(failed.end, 'error');
  assert.match(bootstrapDoneText('tank', failed, 1000), /the first sync failed on node-b; it is retried on its schedule/);

  const locked = await watchBootstrap(fake([pool('tank', { 'node-b': bootstrapping(1) }, { state: 'locked', message: 'Failover occurred. Sync for tank is locked!' })]).watch);
  assert.equal(locked.end, 'locked');

  const slow = fake([pool('tank', { 'node-b': bootstrapping(1) })]);
  const timedOut = await watchBootstrap(slow.watch);
  assert.equal(timedOut.end, 'timeout');
  assert.equal(slow.fetches(), 601, 'once a second for 10 minutes');
  assert.deepEqual(slow.lines, ['node-b: bootstrapping 1 B of 40.0 MiB (0 %)'], 'nothing changed: one line');
  assert.match(bootstrapDoneText('tank', timedOut, 600_000), /still running after 10 min; follow it with tandem replication status tank/);

  const gone = new ApiError({ type: 'urn:tandem:error:POOL_NOT_FOUND', title: 'POOL_NOT_FOUND', status: 404, detail: 'pool tank is not a replicated pool' });
  await assert.rejects(watchBootstrap(fake([gone]).watch), (e: unknown) => e === gone);
  const silent = fake([pool('tank', { 'node-b': inSync })]);
  await watchBootstrap({ ...silent.watch, onLine: undefined });
  assert.deepEqual(silent.lines, [], '--json: no lines');
});
