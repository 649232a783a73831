import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JS_DESTRUCTIVE, integratorPermissions, natsAuthorization, serviceUsers, servicePermissions } from './nats-access';
import { SERVICE_NAMES } from './services';

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
const may = (list: { allow: string[]; deny: string[] }, subject: string) => list.allow.some((a) => matches(a, subject)) && !list.deny.some((d) => matches(d, subject));

test("host operations: every node-x operation is asked only by the resource-manager, the scheduler and (reads) the gateway and x's heartbeat; only x's host-executor receives them", () => {
  const ask = (svc: (typeof SERVICE_NAMES)[number], node: string, subject: string) => may(servicePermissions(svc, node).publish, subject);
  const destroy = 'tandem.node.node-a.exec.pool.destroy';
  assert.deepEqual(
    SERVICE_NAMES.filter((s) => ask(s, 'node-b', destroy)),
    ['resource-manager', 'replication-scheduler'],
  );
  assert.equal(ask('api-gateway', 'node-b', 'tandem.node.node-a.exec.node.info'), true);
  assert.equal(ask('api-gateway', 'node-b', 'tandem.node.node-a.exec.pool.import'), false);
  assert.equal(ask('heartbeat', 'node-a', 'tandem.node.node-a.exec.pool.list'), true);
  assert.equal(ask('heartbeat', 'node-a', 'tandem.node.node-b.exec.pool.list'), false, "not another node's");
  const receives = (svc: (typeof SERVICE_NAMES)[number], node: string) => may(servicePermissions(svc, node).subscribe, 'tandem.node.node-a.exec.pool.import');
  assert.deepEqual(
    ['node-a', 'node-b'].flatMap((n) => SERVICE_NAMES.filter((s) => receives(s, n)).map((s) => `${s}@${n}`)),
    ['host-executor@node-a'],
  );
});

test("leases, heartbeats, the resource-manager's subjects and events each have their one writer", () => {
  const who = (subject: string, dir: 'publish' | 'subscribe' = 'publish') =>
    ['node-a', 'node-b'].flatMap((n) => SERVICE_NAMES.filter((s) => may(servicePermissions(s, n)[dir], subject)).map((s) => `${s}@${n}`));
  assert.deepEqual(who('$KV.tandem-ownership.node.node-a'), ['host-executor@node-a']);
  assert.deepEqual(who('tandem.node.node-a.heartbeat'), ['heartbeat@node-a']);
  assert.deepEqual(who('tandem.evt.node.node-a.health-changed'), ['heartbeat@node-a'], "only node-a's heartbeat tells node-a's health");
  assert.deepEqual(who('tandem.evt.node.node-a.down'), ['heartbeat@node-a', 'heartbeat@node-b'], 'only heartbeats tell that a node is down');
  assert.deepEqual(who('tandem.node.node-a.health.heartbeat', 'subscribe'), ['heartbeat@node-a'], "only node-a's heartbeat answers its view");
  assert.deepEqual(who('tandem.cluster.rm.pool.move'), ['api-gateway@node-a', 'api-gateway@node-b']);
  assert.deepEqual(who('tandem.cluster.rm.pool.move', 'subscribe'), ['resource-manager@node-a', 'resource-manager@node-b']);
  assert.ok(!who('tandem.evt.pool.tank.failed-over').some((u) => u.startsWith('api-gateway')), 'the gateway publishes no event of a pool');
  const started = who('tandem.evt.node.node-a.service-started');
  assert.deepEqual(started.filter((u) => u.endsWith('@node-a')).length, 5, "node-a's five services tell they started");
  assert.ok(!started.includes('api-gateway@node-b') && !started.includes('heartbeat@node-b'), "node-b's gateway and heartbeat cannot tell it for node-a");
  assert.deepEqual(who('$KV.tandem-pools.pool.tank'), ['resource-manager@node-a', 'resource-manager@node-b']);
});

test('nobody deletes or purges a stream; integrators read events and nothing else', () => {
  for (const s of SERVICE_NAMES)
    for (const subject of ['$JS.API.STREAM.DELETE.TANDEM_EVENTS', '$JS.API.STREAM.PURGE.KV_tandem-pools', '$JS.API.STREAM.MSG.DELETE.TANDEM_EVENTS'])
      assert.equal(may(servicePermissions(s, 'node-a').publish, subject), false, `${s}: ${subject}`);
  assert.ok(JS_DESTRUCTIVE.length === 3);
  const i = integratorPermissions();
  assert.equal(may(i.subscribe, 'tandem.evt.pool.tank.failed-over'), true);
  assert.equal(may(i.publish, '$JS.API.CONSUMER.CREATE.TANDEM_EVENTS.mine'), true);
  for (const subject of [
    'tandem.cluster.rm.pool.move',
    'tandem.node.node-a.exec.pool.list',
    'tandem.evt.pool.tank.failed-over',
    '$KV.tandem-pools.pool.tank',
    '$JS.API.STREAM.PURGE.TANDEM_EVENTS',
    '$JS.API.CONSUMER.CREATE.KV_tandem-pools',
  ])
    assert.equal(may(i.publish, subject), false, subject);
  assert.equal(may(i.subscribe, 'tandem.node.node-a.exec.pool.list'), false);
});

test("only host-executor declares streams and buckets, only the resource-manager moves a stream's leader, and nobody administers JetStream", () => {
  const declare = ['$JS.API.STREAM.CREATE.TANDEM_EVENTS', '$JS.API.STREAM.UPDATE.TANDEM_EVENTS', '$JS.API.STREAM.UPDATE.KV_tandem-pools'];
  for (const s of SERVICE_NAMES) {
    const p = servicePermissions(s, 'node-a').publish;
    for (const subject of declare) assert.equal(may(p, subject), s === 'host-executor', `${s}: ${subject}`);
    assert.equal(may(p, '$JS.API.STREAM.LEADER.STEPDOWN.KV_tandem-pools'), s === 'resource-manager', `${s}: stepdown`);
    for (const subject of [
      '$JS.API.STREAM.SNAPSHOT.TANDEM_EVENTS',
      '$JS.API.STREAM.RESTORE.TANDEM_EVENTS',
      '$JS.API.STREAM.PEER.REMOVE.KV_tandem-pools',
      '$JS.API.META.LEADER.STEPDOWN',
      '$JS.API.SERVER.REMOVE',
      '$JS.API.ACCOUNT.PURGE.$G',
    ])
      assert.equal(may(p, subject), false, `${s}: ${subject}`);
    // what every service does with JetStream stays open: stream info, consumers, KV reads
    for (const subject of ['$JS.API.STREAM.INFO.KV_tandem-pools', '$JS.API.CONSUMER.CREATE.TANDEM_EVENTS.x', '$JS.API.DIRECT.GET.KV_tandem-pools.$KV.tandem-pools.pool.tank'])
      assert.equal(may(p, subject), true, `${s}: ${subject}`);
  }
});

test('the authorization block: one user per service and node by nkey, its permissions; a malformed key is refused', () => {
  const key = (n: number) => `U${String(n).padStart(55, 'A').replace(/[0-9]/g, 'B')}`;
  let n = 0;
  const users = serviceUsers(['node-a', 'node-b'], () => key(n++));
  assert.equal(users.length, 10);
  const text = natsAuthorization([...users, { name: 'observer', nkey: key(99), permissions: null }]);
  assert.match(text, /^authorization \{\n {2}users = \[/);
  assert.equal(text.match(/\{ nkey: U/g)?.length, 11);
  assert.match(text, /# host-executor@node-a\n {4}\{ nkey: U\w+, permissions: \{\n {8}publish: \{ allow: \["_INBOX\.>"/);
  assert.match(text, /subscribe: \{ allow: \["_INBOX\.>", "tandem\.node\.node-a\.exec\.>", "tandem\.node\.node-a\.stream\.>"\], deny: \["\$KV\.tandem-iscsi-chap\.>"\] \}/);
  assert.throws(() => natsAuthorization([{ name: 'x', nkey: 'not-a-key', permissions: null }]), /NATS user x: not-a-key is not an nkey user public key/);
});

test("the share users' bucket (NT hashes) is read by the resource-manager and the host-executors only, written by the resource-manager only", () => {
  const reads = ['$JS.API.DIRECT.GET.KV_tandem-share-users.$KV.tandem-share-users.user.alice', '$JS.API.STREAM.MSG.GET.KV_tandem-share-users', '$JS.API.CONSUMER.CREATE.KV_tandem-share-users'];
  for (const svc of SERVICE_NAMES) {
    const p = servicePermissions(svc, 'node-a');
    const reader = svc === 'resource-manager' || svc === 'host-executor';
    for (const s of reads) assert.equal(may(p.publish, s), reader, `${svc}: ${s}`);
    assert.equal(may(p.subscribe, '$KV.tandem-share-users.user.alice'), false, `${svc}: a plain subscription to the bucket's subjects`);
    assert.equal(may(p.publish, '$KV.tandem-share-users.user.alice'), svc === 'resource-manager', `${svc}: writes a share user`);
    // the other buckets stay readable by everyone
    assert.equal(may(p.publish, '$JS.API.DIRECT.GET.KV_tandem-pools.$KV.tandem-pools.pool.tank'), true, `${svc}: reads the pool records`);
  }
  assert.equal(may(integratorPermissions().publish, reads[0]), false);
});

test('the iSCSI CHAP bucket (secrets in the clear) is read and written by the resource-manager alone', () => {
  const reads = ['$JS.API.DIRECT.GET.KV_tandem-iscsi-chap.$KV.tandem-iscsi-chap.pool.tank', '$JS.API.STREAM.MSG.GET.KV_tandem-iscsi-chap', '$JS.API.CONSUMER.CREATE.KV_tandem-iscsi-chap'];
  for (const svc of SERVICE_NAMES) {
    const p = servicePermissions(svc, 'node-a');
    for (const s of reads) assert.equal(may(p.publish, s), svc === 'resource-manager', `${svc}: ${s}`);
    assert.equal(may(p.subscribe, '$KV.tandem-iscsi-chap.pool.tank'), false, `${svc}: a plain subscription to the bucket's subjects`);
    assert.equal(may(p.publish, '$KV.tandem-iscsi-chap.pool.tank'), svc === 'resource-manager', `${svc}: writes a pool's CHAP`);
  }
  assert.equal(may(integratorPermissions().publish, reads[0]), false);
});
