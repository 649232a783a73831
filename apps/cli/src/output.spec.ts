import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterStatus, HaPool, ReplicationPoolStatus } from '@tandem/contracts';
import { SseParser } from './client';
import { Progress, clusterStatusText, eventLine, formatBytes, hintFor, humanDuration, moveDone, poolDetails, poolTable, rateText, seconds, shareText, table } from './output';

const tank: HaPool = {
  name: 'tank',
  state: 'serving',
  node: 'node-a',
  operation: null,
  reason: null,
  vips: [{ interface: 'cli0', address: '10.77.3.50', prefix: 24 }],
  shares: [{ name: 'data', protocol: 'smb', path: '', readOnly: false, clients: [], rootSquash: true, users: [], guest: true }],
  fc: false,
  epoch: 3,
  mountpoint: '/tank',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

test('tables line up', () => {
  assert.equal(
    table([
      ['A', 'BB'],
      ['CCC', 'D'],
    ]),
    'A    BB\nCCC  D\n',
  );
  const t = poolTable([tank, { ...tank, name: 'backup', state: 'inactive', node: null, reason: 'exported by cli:alice@h1', vips: [], fc: true, shares: [] }]);
  const lines = t.trimEnd().split('\n');
  assert.match(lines[0], /^POOL\s+STATE\s+NODE\s+FLOATING IPS\s+SHARES\s+EPOCH\s+NOTE$/);
  assert.match(lines[1], /^backup\s+inactive\s+-\s+fc\s+-\s+3\s+exported by cli:alice@h1$/);
  assert.match(lines[2], /^tank\s+serving\s+node-a\s+10\.77\.3\.50\/24\s+data\/smb\s+3$/);
  assert.match(poolTable([]), /no HA pools/);
  assert.match(poolDetails(tank), /floating IPs:\s+10\.77\.3\.50\/24 on cli0/);
});

test('durations', () => {
  assert.equal(seconds(1_400), '1.4 s');
  assert.equal(seconds(42_400), '42 s');
});

test('server-sent events split across chunks', () => {
  const got: string[] = [];
  const p = new SseParser((d) => got.push(d));
  p.push(': tandem event feed\nretry: 2000\n\nid: e1\nda');
  p.push('ta: {"a":1}\n');
  p.push('\ndata: {"b"');
  assert.deepEqual(got, ['{"a":1}']);
  p.push(':2}\r\n\r\n');
  assert.deepEqual(got, ['{"a":1}', '{"b":2}']);
});

test('event lines and hints', () => {
  const line = eventLine({
    schema: 'tandem.pool.changed/1',
    at: '2026-01-01T10:00:00.123Z',
    entity: { kind: 'pool', id: 'tank' },
    source: 'resource-manager@node-a',
    data: { pool: { name: 'tank' } },
  });
  assert.match(line, /^\d\d:\d\d:\d\d\.123  pool\.changed\s+pool\/tank\s+resource-manager@node-a\s+\{"pool":\{"name":"tank"\}\}$/);
  const unreachable = { type: 'urn:tandem:error:UNAVAILABLE', title: 'UNAVAILABLE', status: 0, detail: 'x' };
  assert.match(hintFor(unreachable, { api: 'http://h:8080' }) ?? '', /api-gateway running at http:\/\/h:8080/);
  assert.match(hintFor({ ...unreachable, detail: 'the API at https://h:8080 is not trusted (…)' }, { api: 'https://h:8080' }) ?? '', /signed its certificate.*fingerprint is in its api-gateway's log/);
  assert.match(hintFor({ ...unreachable, status: 503 }, { api: 'http://h:8080' }) ?? '', /resource-manager/);
  assert.match(hintFor({ ...unreachable, title: 'IN_TRANSITION', status: 409 }, { api: '' }) ?? '', /wait/);
});

test('the progress line is redrawn on a terminal, printed once otherwise', () => {
  const tty: string[] = [];
  const p = new Progress({ write: (s: string) => tty.push(s), isTTY: true }, 'moving tank to node-b');
  assert.ok(p.stop() >= 0);
  assert.deepEqual(tty, ['\r\x1b[2Kmoving tank to node-b …', '\r\x1b[2K']);
  const plain: string[] = [];
  new Progress({ write: (s: string) => plain.push(s), isTTY: false }, 'moving tank to node-b').stop();
  assert.deepEqual(plain, ['moving tank to node-b …\n']);
});

const clusterStatus: ClusterStatus = {
  cluster: { id: 'tandem', heartbeatInterface: 'hb0', maintenance: false, createdAt: '2026-01-01T00:00:00.000Z' },
  answeredBy: 'node-b',
  nodes: [
    { id: 'node-b', state: 'online', health: 'degraded', healthDetail: 'backup DEGRADED', thisNode: true, heartbeatAddress: '10.77.1.12', heartbeatLink: 'up', pools: ['backup', 'tank'] },
    { id: 'node-a', state: 'online', health: 'healthy', healthDetail: null, thisNode: false, heartbeatAddress: '10.77.1.11', heartbeatLink: 'up', pools: [] },
    { id: 'node-c', state: 'down', health: 'unknown', healthDetail: null, thisNode: false, heartbeatAddress: '10.77.1.13', heartbeatLink: 'unknown', pools: [] },
    { id: 'node-d', state: 'offline', health: 'healthy', healthDetail: null, thisNode: false, heartbeatAddress: null, heartbeatLink: 'down', pools: [] },
  ],
};

test('cluster status: a row per node, this node marked, maintenance said when on', () => {
  const lines = clusterStatusText(clusterStatus).trimEnd().split('\n');
  assert.match(lines[0], /^cluster tandem  heartbeat interface hb0  formed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  assert.equal(lines[1], '');
  assert.match(lines[2], /^ {3}NODE\s+STATE\s+HEALTH\s+HEARTBEAT\s+POOLS$/);
  assert.match(lines[3], /^ {3}node-a\s+online\s+healthy\s+10\.77\.1\.11 link up\s+-$/);
  assert.match(lines[4], /^\* {2}node-b\s+online\s+degraded \(backup DEGRADED\)\s+10\.77\.1\.12 link up\s+backup,tank$/);
  assert.match(lines[5], /^ {3}node-c\s+down\s+unknown\s+10\.77\.1\.13 link unknown\s+-$/);
  assert.match(lines[6], /^ {3}node-d\s+offline\s+healthy\s+- link down\s+-$/);
  assert.equal(lines[7], '');
  assert.equal(lines[8], '* this node (node-b), whose api-gateway answered');
  assert.equal(lines.length, 9, 'no maintenance line while it is off');
  // Columns line up: every row starts its STATE at the same place.
  const at = lines[2].indexOf('STATE');
  for (const l of lines.slice(3, 7)) assert.match(l.slice(at), /^(online|down|offline) /);

  const on = clusterStatusText({ ...clusterStatus, cluster: { ...clusterStatus.cluster!, maintenance: true } });
  assert.match(on, /\nmaintenance: ON — nothing moves automatically\n$/);
});

test('cluster status: no cluster yet, or this node not in it', () => {
  assert.match(clusterStatusText({ cluster: null, answeredBy: 'node-a', nodes: [] }), /^no cluster yet \(asked node-a\): form one with tandem cluster create --heartbeat-interface IF/);
  const outside = clusterStatusText({ ...clusterStatus, answeredBy: 'node-e', nodes: clusterStatus.nodes.map((n) => ({ ...n, thisNode: false })) });
  assert.doesNotMatch(outside, /^\*/m);
  assert.match(outside, /^this node \(node-e\), whose api-gateway answered, is not in the cluster: join it with tandem cluster join/m);
});

test('hints for cluster errors', () => {
  const p = (title: string, status: number, field?: string, detail = 'x') => ({ type: `urn:tandem:error:${title}`, title, status, detail, ...(field ? { field } : {}) });
  assert.match(hintFor(p('UNAVAILABLE', 502, 'peer'), { api: '', command: 'cluster.join' }) ?? '', /check --peer/);
  assert.match(hintFor(p('UNAUTHORIZED', 401, 'password'), { api: '', command: 'cluster.join' }) ?? '', /admin password of the node at --peer/);
  assert.match(hintFor(p('UNAUTHORIZED', 401), { api: '' }) ?? '', /TANDEM_PASSWORD/);
  assert.match(hintFor(p('NOT_FOUND', 404, undefined, 'there is no cluster yet'), { api: '', command: 'maintenance' }) ?? '', /tandem cluster create/);
  assert.match(hintFor(p('INVALID_ARGUMENT', 400, 'node', 'node node-b is online: take it offline first'), { api: '', node: 'node-b', command: 'node.remove' }) ?? '', /tandem node offline node-b/);
  assert.match(hintFor(p('INTERFACE_NOT_FOUND', 400, 'heartbeatInterface'), { api: '', command: 'cluster.join' }) ?? '', /same name/);
  assert.match(hintFor(p('UNAVAILABLE', 503, 'node'), { api: '', node: 'node-b', command: 'node.online' }) ?? '', /is node-b running/);
  assert.match(hintFor(p('TIMEOUT', 504), { api: '', node: 'node-b', command: 'node.offline' }) ?? '', /tandem cluster status/);
  assert.match(hintFor(p('TIMEOUT', 504), { api: '', pool: 'tank', command: 'pool.move' }) ?? '', /tandem pool show tank/);
  assert.match(hintFor(p('ALREADY_EXISTS', 409), { api: '', command: 'cluster.join' }) ?? '', /tandem cluster status/);
  assert.match(hintFor(p('UNKNOWN_NODE', 404), { api: '', command: 'node.offline' }) ?? '', /tandem cluster status lists the nodes/);
  assert.match(hintFor(p('INVALID_ARGUMENT', 400, 'before', 'before: no entry x in the activity log'), { api: '', command: 'log' }) ?? '', /more: tandem log --before CURSOR/);
});

test('human durations, sizes and rates', () => {
  assert.deepEqual([0, 45, 60, 90, 900, 3600, 3605, 5400, 21_600, 86_400, 93_600, 86_430].map(humanDuration), [
    '0 s',
    '45 s',
    '1 min',
    '1 min 30 s',
    '15 min',
    '1 h',
    '1 h',
    '1 h 30 min',
    '6 h',
    '1 d',
    '1 d 2 h',
    '1 d',
  ]);
  assert.deepEqual([0, 512, 1536, 12 * 2 ** 20, 3.25 * 2 ** 30].map(formatBytes), ['0 B', '512 B', '1.5 KiB', '12.0 MiB', '3.3 GiB']);
  assert.equal(rateText(3 * 2 ** 20, 1000), '3.0 MiB/s');
  assert.equal(rateText(2 ** 20, 0), '-');
});

test('pool move: a replicated pool says its final sync', () => {
  assert.equal(moveDone({ ...tank, node: 'node-b' }, 'node-b'), 'moved tank to node-b in {t}');
  assert.equal(moveDone({ ...tank, node: 'node-b', finalSync: null }, 'node-b'), 'moved tank to node-b in {t}');
  assert.equal(
    moveDone({ ...tank, node: 'node-b', mode: 'replicated', finalSync: { snapshot: 'tank@tandem-20260101-100000', bytes: 5 * 2 ** 20, ms: 830 } }, 'node-b'),
    'moved tank to node-b in {t}; final sync tank@tandem-20260101-100000: 5.0 MiB in 0.8 s',
  );
});

test('pool show: a replicated pool says so, its own schedule and its sync lock', () => {
  assert.doesNotMatch(poolDetails(tank), /mode:|sync:/, 'nothing new for a shared pool');
  const d = poolDetails({
    ...tank,
    mode: 'replicated',
    replication: { snapshotIntervalS: 300, retention: 12 },
    syncLock: { at: '2026-01-01T09:00:00.000Z', from: 'node-a', to: 'node-b', lastSnapshot: null, lastSnapshotAt: null },
  });
  assert.match(d, /^mode:\s+replicated \(shared nothing/m);
  assert.match(d, /^own schedule:\s+snapshot every 5 min, keep 12$/m);
  assert.match(d, /^sync:\s+LOCKED since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(automatic failover node-a → node-b\)$/m);
  assert.doesNotMatch(poolDetails({ ...tank, mode: 'replicated', syncLock: null }), /own schedule|sync:/);
});

const schedule = { snapshotIntervalS: 900, retention: 24, pullIntervalS: 180, stallTimeoutS: 60 };
const replicated = (pool: string, over: Partial<ReplicationPoolStatus>): ReplicationPoolStatus => ({
  pool,
  active: 'node-a',
  direction: 'node-a → node-b',
  state: 'in-sync',
  message: null,
  possiblyMissingS: null,
  schedule,
  rollbackWindowS: 21_600,
  passiveDownLimitS: 21_600,
  replication: null,
  ...over,
});

test('cluster status: the replication section, and a locked pool as an alarm', () => {
  const lock = 'Failover occurred. Sync for backup is locked!';
  const status: ClusterStatus = {
    ...clusterStatus,
    failover: { declined: null, alarms: [lock], witness: true },
    replication: [
      replicated('tank', {}),
      replicated('backup', { active: 'node-b', direction: 'node-b → node-a', state: 'locked', message: lock, possiblyMissingS: 42 }),
      replicated('media', { state: 'error', message: 'node-b: cannot reach 10.77.1.12:2222' }),
    ],
  };
  const text = clusterStatusText(status);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.filter((l) => l === `alarm: ${lock}`).length, 1, 'the alarm once');
  const at = lines.indexOf('replication:');
  assert.ok(at > lines.indexOf(`alarm: ${lock}`), text);
  assert.equal(lines[at - 1], '');
  assert.match(lines[at + 1], /^ {2}POOL\s+ACTIVE\s+DIRECTION\s+STATE\s+LAG\s+NOTE$/);
  assert.match(lines[at + 2], /^ {2}backup\s+node-b\s+node-b → node-a\s+locked\s+-\s+data possibly missing: 42 s; resume with: tandem replication resume backup$/);
  assert.match(lines[at + 3], /^ {2}media\s+node-a\s+node-a → node-b\s+error\s+-\s+node-b: cannot reach 10\.77\.1\.12:2222$/);
  assert.match(lines[at + 4], /^ {2}tank\s+node-a\s+node-a → node-b\s+in-sync\s+-$/);
  assert.equal(lines.length, at + 5);

  // A resource-manager that does not list the lock among its alarms: it is one all the same.
  const older = clusterStatusText({ ...status, failover: undefined });
  assert.equal(older.split('\n').filter((l) => l === `alarm: ${lock}`).length, 1);
  // No replicated pool: no section.
  assert.doesNotMatch(clusterStatusText({ ...clusterStatus, replication: [] }), /replication:/);
});

test('hints for replication errors', () => {
  const p = (title: string, status: number, field?: string) => ({ type: `urn:tandem:error:${title}`, title, status, detail: 'x', ...(field ? { field } : {}) });
  assert.match(hintFor(p('SYNC_LOCKED', 409, 'pool'), { api: '', pool: 'tank', command: 'pool.move' }) ?? '', /tandem replication resume tank/);
  assert.match(hintFor(p('INVALID_ARGUMENT', 400, 'sshAddresses'), { api: '', command: 'replication.settings' }) ?? '', /--ssh-address NODE=IP/);
  assert.match(hintFor(p('INVALID_ARGUMENT', 400, 'pool'), { api: '', pool: 'tank', command: 'replication.resume' }) ?? '', /tandem replication status/);
  assert.match(hintFor(p('TIMEOUT', 504), { api: '', command: 'replication.settings' }) ?? '', /tandem replication status/);
  assert.match(hintFor(p('TIMEOUT', 504), { api: '', node: 'node-b', command: 'replication.keys-rotate' }) ?? '', /old keys stay valid/);
});

test('a share says who may use it and, over NFS, whether root is kept', () => {
  assert.equal(shareText({ name: 'data', protocol: 'smb', path: '', readOnly: false, clients: [], rootSquash: true, users: [], guest: true }), 'data (smb, guests)');
  assert.equal(shareText({ name: 'data', protocol: 'smb', path: '', readOnly: false, clients: [], rootSquash: true, users: ['alice', 'bob'], guest: false }), 'data (smb, users alice bob)');
  assert.equal(
    shareText({ name: 'lab', protocol: 'nfs', path: 'lab', readOnly: true, clients: ['10.77.8.0/24', 'fd77:8::/64'], rootSquash: false, users: [], guest: false }),
    'lab (nfs, lab, read-only, clients 10.77.8.0/24 fd77:8::/64, root kept)',
  );
  assert.equal(shareText({ name: 'x', protocol: 'smb', path: '', readOnly: false, clients: [], rootSquash: false, users: [], guest: true }), 'x (smb, guests)', 'root squash means nothing to SMB');
});

test('share user errors point at the share users, not the pools', () => {
  const p = (title: string, detail: string, field?: string) => ({ type: `urn:tandem:error:${title}`, title, status: 409, detail, ...(field ? { field } : {}) });
  assert.match(hintFor(p('ALREADY_EXISTS', 'share user alice exists', 'name'), { api: 'x', command: 'share-user.add' }) ?? '', /tandem share user list/);
  assert.match(hintFor(p('INVALID_ARGUMENT', 'share user alice is let in by tank/files', 'name'), { api: 'x', command: 'share-user.remove' }) ?? '', /which shares let it in/);
  assert.match(hintFor(p('NOT_FOUND', 'no share user mallory', 'shares.0.users'), { api: 'x', command: 'pool.attach' }) ?? '', /tandem share user add/);
  assert.match(hintFor(p('ALREADY_EXISTS', 'pool tank is already under cluster control', 'pool'), { api: 'x', command: 'pool.attach' }) ?? '', /pool list/);
});
