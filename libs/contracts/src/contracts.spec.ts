import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Events,
  durationSchema,
  effectiveSchedule,
  formatDuration,
  isTandemSnapshot,
  replicationSendCommandSchema,
  syncLockedMessage,
  tandemSnapshotName,
  HOST_OPERATIONS,
  cidrSchema,
  datasetNameSchema,
  eventEnvelopeSchema,
  eventSubject,
  execSubject,
  hostOpRequests,
  interfaceNameSchema,
  ipEntityId,
  nodeIdSchema,
  operationOf,
  parseCidr,
  poolNameSchema,
  snapshotNameSchema,
  streamSubject,
  subjectFor,
  type EventDefinition,
} from './index';

const HOSTILE = ['; rm -rf /', '$(reboot)', '`id`', 'a b', 'a\nb', '../etc', '-f', '', 'a|b', 'a&&b', "a'b"];

test('pool names follow ZFS rules and refuse shell metacharacters', () => {
  for (const ok of ['tank', 'Tank_1', 'pool.a:b-c']) assert.equal(poolNameSchema.safeParse(ok).success, true, ok);
  for (const bad of [...HOSTILE, '1tank', 'mirror', 'raidz2', 'log', 'c0d0', 'a/b']) assert.equal(poolNameSchema.safeParse(bad).success, false, bad);
});

test('dataset and snapshot names', () => {
  assert.equal(datasetNameSchema.safeParse('tank/a/b_c').success, true);
  for (const bad of [...HOSTILE, 'tank//a', 'tank/', '/tank', 'tank/a@s']) assert.equal(datasetNameSchema.safeParse(bad).success, false, bad);
  assert.equal(snapshotNameSchema.safeParse('tank/a@s1').success, true);
  for (const bad of ['tank/a', 'tank@a@b', '@s', 'tank/a@', 'tank/a@s;x', 'tank/a@$(x)']) assert.equal(snapshotNameSchema.safeParse(bad).success, false, bad);
});

test('node ids and interface names', () => {
  for (const ok of ['node-a', 'a', 'n1']) assert.equal(nodeIdSchema.safeParse(ok).success, true, ok);
  for (const bad of [...HOSTILE, 'Node-A', 'node-', '-node', 'node.a', 'x'.repeat(40)]) assert.equal(nodeIdSchema.safeParse(bad).success, false, bad);
  for (const ok of ['eth0', 'cli0', 'br-lan.10', 'enp3s0f1']) assert.equal(interfaceNameSchema.safeParse(ok).success, true, ok);
  for (const bad of [...HOSTILE, 'eth0:1', 'averyveryverylongname', 'a/b']) assert.equal(interfaceNameSchema.safeParse(bad).success, false, bad);
});

test('CIDR: prefix must fit the address family', () => {
  assert.deepEqual(parseCidr('10.0.0.5/24'), { address: '10.0.0.5', prefix: 24, family: 4 });
  assert.deepEqual(parseCidr('fd00::5/64'), { address: 'fd00::5', prefix: 64, family: 6 });
  for (const bad of ['10.0.0.5', '10.0.0.5/33', '10.0.0.5/0', '999.0.0.1/24', 'fd00::5/129', '10.0.0.5/24;x', ' 10.0.0.5/24']) {
    assert.equal(cidrSchema.safeParse(bad).success, false, bad);
  }
});

test('subjects have the documented shape and refuse wildcards and separators', () => {
  assert.equal(execSubject('node-a', 'pool.import'), 'tandem.node.node-a.exec.pool.import');
  assert.equal(operationOf('tandem.node.node-a.exec.pool.import', 'node-a'), 'pool.import');
  assert.equal(operationOf('tandem.node.node-b.exec.pool.import', 'node-a'), null);
  assert.equal(eventSubject('pool', 'tank', 'failed-over'), 'tandem.evt.pool.tank.failed-over');
  assert.throws(() => execSubject('node.*', 'x'));
  assert.throws(() => eventSubject('pool', 'ta.nk', 'imported'));
  assert.throws(() => eventSubject('pool', '>', 'imported'));
  assert.throws(() => streamSubject('node-a', 'short'));
  assert.equal(ipEntityId('10.0.0.5'), '10_0_0_5');
  assert.equal(ipEntityId('fd00::5'), 'fd00__5');
});

test('every event in the catalogue has a unique versioned schema and a valid subject', () => {
  const schemas = new Set<string>();
  for (const [name, def] of Object.entries(Events)) {
    assert.match(def.schema, /^tandem\.[a-z-]+\.[a-z-]+\/\d+$/, name);
    assert.ok(!schemas.has(def.schema), `duplicate schema ${def.schema}`);
    schemas.add(def.schema);
    assert.ok(def.description.length > 10, `${name} needs a description`);
    assert.ok(def.schema.includes(`.${def.verb}/`), `${name}: schema and verb agree`);
    assert.match(subjectFor(def as EventDefinition<unknown>, 'x1'), new RegExp(`^tandem\\.evt\\.${def.entity}\\.x1\\.${def.verb}$`));
  }
});

test('event payloads are checked: a created payload cannot stand in for an exported one', () => {
  assert.equal(Events.poolExported.data.safeParse({ node: 'node-a', forced: false }).success, true);
  assert.equal(Events.poolExported.data.safeParse({ node: 'node-a' }).success, false);
  assert.equal(Events.nodePoolsChanged.data.safeParse({ links: [] }).success, false);
  const env = {
    schema: Events.poolImported.schema,
    id: '12345678-aaaa',
    clusterId: 'c',
    at: new Date().toISOString(),
    traceparent: null,
    source: 'host-executor@node-a',
    entity: { kind: 'pool', id: 'tank' },
    data: {},
  };
  assert.equal(eventEnvelopeSchema.safeParse(env).success, true);
  assert.equal(eventEnvelopeSchema.safeParse({ ...env, at: 'yesterday' }).success, false);
  assert.equal(eventEnvelopeSchema.safeParse({ ...env, schema: 'pool-imported' }).success, false);
});

test('host operation requests reject unknown fields and hostile values, naming the field', () => {
  assert.ok(HOST_OPERATIONS.length >= 24);
  const r = hostOpRequests['pool.import'].safeParse({ pool: 'tank', sneaky: true });
  assert.equal(r.success, false);
  const bad = hostOpRequests['ip.add'].safeParse({ interface: 'eth0', address: '10.0.0.1', prefix: 24, extra: 1 });
  assert.equal(bad.success, false);
  const addr = hostOpRequests['ip.add'].safeParse({ interface: 'eth0', address: '$(reboot)', prefix: 24 });
  assert.equal(addr.success, false);
  assert.deepEqual(addr.error?.issues[0]?.path, ['address']);
  const ok = hostOpRequests['pool.import'].parse({ pool: 'tank' });
  assert.deepEqual(ok, { pool: 'tank', force: false, role: 'serve' });
  const send = hostOpRequests['stream.send'].safeParse({ snapshot: 'tank@a', subject: 'tandem.evt.>' });
  assert.equal(send.success, false);
  const vdev = hostOpRequests['pool.create'].safeParse({ pool: 'p', vdevs: ['../x'] });
  assert.deepEqual(vdev.error?.issues[0]?.path, ['vdevs', 0]);
  // a release that may kill the node's ZFS daemon comes only with the pool record's epoch
  const release = hostOpRequests['pool.export'].safeParse({ pool: 'tank', force: true, hardFenceAfterMs: 2_000 });
  assert.deepEqual(release.error?.issues[0]?.path, ['epoch']);
  assert.equal(hostOpRequests['pool.export'].safeParse({ pool: 'tank', force: true, hardFenceAfterMs: 2_000, epoch: 3 }).success, true);
  assert.equal(hostOpRequests['pool.export'].safeParse({ pool: 'tank' }).success, true, 'a plain export needs no epoch');
});

test('replication: durations, snapshot names, the send command a key may run, the effective schedule', () => {
  assert.deepEqual(
    ['30s', '15m', '2h', '1d', 90].map((v) => durationSchema.parse(v)),
    [30, 900, 7_200, 86_400, 90],
  );
  for (const bad of ['0s', '-5m', '1.5h', '15', 'fast', 0, 2.5]) assert.equal(durationSchema.safeParse(bad).success, false, String(bad));
  assert.equal(formatDuration(900), '15m');
  assert.equal(tandemSnapshotName(new Date(Date.UTC(2026, 11, 3, 23, 55, 1))), 'tandem-20261203-235501');
  assert.ok(isTandemSnapshot('tandem-20261203-235501') && !isTandemSnapshot('tandem-diverged') && !isTandemSnapshot('manual'));
  const ok = { v: 1, op: 'send', snapshot: 'tank/a@tandem-20261203-235501', base: 'tank/a@tandem-20261203-234001' };
  assert.equal(replicationSendCommandSchema.safeParse(ok).success, true);
  for (const bad of [
    { ...ok, op: 'destroy' },
    { ...ok, snapshot: 'tank@manual' },
    { ...ok, base: 'other@tandem-20261203-234001' },
    { ...ok, snapshot: 'tank;reboot@tandem-20261203-235501' },
    { ...ok, extra: 'x' },
  ])
    assert.equal(replicationSendCommandSchema.safeParse(bad).success, false, JSON.stringify(bad));
  assert.deepEqual(effectiveSchedule(undefined, undefined), { snapshotIntervalS: 900, retention: 24, pullIntervalS: 180, stallTimeoutS: 60 });
  assert.deepEqual(effectiveSchedule({ retention: 12, pullIntervalS: 60 }, { retention: 3 }), { snapshotIntervalS: 900, retention: 3, pullIntervalS: 60, stallTimeoutS: 60 });
  assert.equal(syncLockedMessage('tank'), 'Failover occurred. Sync for tank is locked!');
});
