import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterMember, ClusterRecord } from '@tandem/contracts';
import { authorizeClient, endpointOf, parseSendCommand, sendArgv, sendRefusal } from './endpoint-rules';
import { keyBlob } from './ssh-key-format';
import { makeEd25519 } from './ssh-keys.service';

const key = () => makeEd25519().pair.public;
const aClient = key();
const aClientNext = key();
const bClient = key();
const stranger = key();

const member = (id: string, over: Partial<ClusterMember> = {}): ClusterMember => ({
  id,
  heartbeatAddress: id === 'node-a' ? '10.77.1.11' : '10.77.1.12',
  adminState: 'online',
  joinedAt: '2026-01-01T00:00:00.000Z',
  ...over,
});
const cluster = (over: Partial<ClusterRecord> = {}): ClusterRecord => ({
  id: 'c1',
  heartbeatInterface: 'hb0',
  maintenance: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  nodes: [
    member('node-a', { ssh: { hostKeys: [key()], clientKeys: [aClient, `${aClientNext} rotated`] } }),
    member('node-b', { ssh: { hostKeys: [key()], clientKeys: [bClient] } }),
    member('node-c'), // joined before keys were pinned
  ],
  ...over,
});
const blob = (line: string) => keyBlob(line) as Buffer;

test('a member logs in as itself with a client key pinned for it (either key during a rotation)', () => {
  const a = authorizeClient(cluster(), 'node-a', blob(aClient));
  assert.equal(a.ok && a.value.member.id, 'node-a');
  const rotated = authorizeClient(cluster(), 'node-a', blob(aClientNext));
  assert.equal(rotated.ok && rotated.value.key, `${aClientNext} rotated`, 'the pinned line is what verifies the signature');
  assert.equal(authorizeClient(cluster(), 'node-b', blob(bClient)).ok, true);
});

test('logins refused: a key nobody pinned, another member name, no cluster', () => {
  const unknown = authorizeClient(cluster(), 'node-a', blob(stranger));
  assert.equal(unknown.ok, false);
  assert.match(!unknown.ok ? unknown.reason : '', /pinned for no member of cluster c1/);
  const impostor = authorizeClient(cluster(), 'node-b', blob(aClient));
  assert.equal(impostor.ok, false);
  assert.match(!impostor.ok ? impostor.reason : '', /node-a's, but the user name is "node-b"/);
  assert.equal(authorizeClient(cluster(), 'root', blob(aClient)).ok, false);
  assert.equal(authorizeClient(null, 'node-a', blob(aClient)).ok, false);
  const removed = cluster({ nodes: [member('node-b', { ssh: { hostKeys: [key()], clientKeys: [bClient] } })] });
  assert.equal(authorizeClient(removed, 'node-a', blob(aClient)).ok, false, 'a node removed from the cluster is trusted no more');
});

test('the one command a replication key may run: a JSON send of a Tandem snapshot', () => {
  const full = parseSendCommand('{"v":1,"op":"send","snapshot":"tank/data@tandem-20260101-000000","base":null}');
  assert.deepEqual(full.ok && full.value, { v: 1, op: 'send', snapshot: 'tank/data@tandem-20260101-000000', base: null });
  assert.deepEqual(full.ok && sendArgv(full.value), ['zfs', 'send', 'tank/data@tandem-20260101-000000']);
  const incr = parseSendCommand(JSON.stringify({ v: 1, op: 'send', snapshot: 'tank@tandem-20260101-000200', base: 'tank@tandem-20260101-000000' }));
  assert.deepEqual(incr.ok && sendArgv(incr.value), ['zfs', 'send', '-I', 'tank@tandem-20260101-000000', 'tank@tandem-20260101-000200']);
});

test('anything else is refused with a reason', () => {
  const refused = (text: string, why: RegExp) => {
    const r = parseSendCommand(text);
    assert.equal(r.ok, false, text);
    assert.match(!r.ok ? r.reason : '', why, text);
  };
  refused('zfs destroy -r tank', /"zfs destroy -r tank" is not a Tandem replication command/);
  refused('', /is not a Tandem replication command/);
  refused('/bin/sh -c id', /not a Tandem replication command/);
  refused('{"v":1,"op":"send","snapshot":"tank/data@manual","base":null}', /snapshot: only Tandem snapshots/);
  refused('{"v":1,"op":"destroy","snapshot":"tank/data@tandem-20260101-000000","base":null}', /op: /);
  refused('{"v":2,"op":"send","snapshot":"tank/data@tandem-20260101-000000","base":null}', /^not a valid send request: v: /);
  refused('{"v":1,"op":"send","snapshot":"tank/data@tandem-20260101-000000","base":null,"flags":"-R"}', /Unrecognized key/);
  refused('{"v":1,"op":"send","snapshot":"tank/data@tandem-20260101-000000"}', /base: Required/);
  refused('{"v":1,"op":"send","snapshot":"tank/data@tandem-20260101-000000","base":"tank/other@tandem-20260101-000000"}', /base: the base must be a snapshot of the same dataset/);
  refused('{"v":1,"op":"send","snapshot":"tank/data@tandem-20260101-000000; reboot","base":null}', /snapshot/);
  refused('{"v":1,"op":"send","snapshot":"-R tank@tandem-20260101-000000","base":null}', /snapshot/);
  refused(`{"v":1,"op":"send","snapshot":"${'a'.repeat(3000)}","base":null}`, /3\d{3} characters long/);
  refused('[1,2]', /not a valid send request/);
  refused('"\u0007\u0000"', /^""\?\?"" is not a Tandem replication command/); // control characters never reach a log line
});

test('a valid send is served only for a replicated pool, never for data kept aside', () => {
  const cmd = (snapshot: string) => {
    const r = parseSendCommand(JSON.stringify({ v: 1, op: 'send', snapshot, base: null }));
    assert.ok(r.ok, snapshot);
    return r.value;
  };
  assert.equal(sendRefusal(cmd('tank/data@tandem-20260101-000000'), 'replicated'), null);
  assert.equal(sendRefusal(cmd('tank@tandem-20260101-000000'), 'replicated'), null);
  assert.match(sendRefusal(cmd('tank/data@tandem-20260101-000000'), 'shared') ?? '', /tank is not a replicated pool \(its mode is shared\)/);
  assert.match(sendRefusal(cmd('tank/data@tandem-20260101-000000'), null) ?? '', /tank is not a pool of this cluster/);
  assert.match(sendRefusal(cmd('tank/tandem-kept@tandem-20260101-000000'), 'replicated') ?? '', /kept aside: it is never replicated/);
  assert.match(sendRefusal(cmd('tank/tandem-kept/t1/data@tandem-20260101-000000'), 'replicated') ?? '', /kept aside/);
  assert.equal(sendRefusal(cmd('tank/tandem-kept2@tandem-20260101-000000'), 'replicated'), null, 'only the kept-aside tree itself');
});

test('the endpoint listens at the replication address, else the heartbeat address, on the cluster port; not before the node is a member', () => {
  assert.deepEqual(endpointOf(cluster(), 'node-a'), { ok: true, value: { address: '10.77.1.11', port: 2222 } });
  assert.deepEqual(endpointOf(cluster({ replication: { sshPort: 2200, sshAddresses: { 'node-a': '10.77.2.11' } } }), 'node-a'), { ok: true, value: { address: '10.77.2.11', port: 2200 } });
  assert.deepEqual(endpointOf(cluster({ replication: { sshAddresses: { 'node-b': '10.77.2.12' } } }), 'node-a'), { ok: true, value: { address: '10.77.1.11', port: 2222 } });
  assert.equal(endpointOf(cluster(), 'node-z').ok, false);
  assert.equal(endpointOf(null, 'node-a').ok, false);
  const noAddress = endpointOf(cluster({ nodes: [member('node-a', { heartbeatAddress: null })] }), 'node-a');
  assert.match(!noAddress.ok ? noAddress.reason : '', /no heartbeat address and no replication address/);
});
