import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fenceMetadata, parseFenceRequest } from './fence-agent';
import { Paths } from './layout';
import { fenceAgentScript, renderCorosyncConf, renderPeerPoolConfig } from './pacemaker';

const nodes = [
  { name: 'node-a', nodeid: 1, address: '10.77.1.11' },
  { name: 'node-b', nodeid: 2, address: '10.77.1.12' },
];

test('corosync.conf: knet with crypto, each node on its heartbeat address, two_node, the default token (not written)', () => {
  const conf = renderCorosyncConf('tandem-peer', nodes, '/logs/corosync.log');
  assert.match(conf, /transport: knet/);
  assert.match(conf, /crypto_cipher: aes256\n\s*crypto_hash: sha256/);
  assert.match(conf, /ring0_addr: 10\.77\.1\.11\n\s*name: node-a\n\s*nodeid: 1/);
  assert.match(conf, /ring0_addr: 10\.77\.1\.12\n\s*name: node-b\n\s*nodeid: 2/);
  assert.match(conf, /two_node: 1/);
  assert.doesNotMatch(conf, /token|wait_for_all/);
  assert.match(conf, /logfile: \/logs\/corosync\.log/);
});

test('corosync.conf: three nodes get no two_node; one node is refused', () => {
  assert.doesNotMatch(renderCorosyncConf('c', [...nodes, { name: 'node-c', nodeid: 3, address: '10.77.1.13' }], '/l'), /two_node/);
  assert.throws(() => renderCorosyncConf('c', [nodes[0]!], '/l'), /at least two nodes/);
});

test('the pool group: fencing on (off), stickiness 1, ZFS then IPaddr2 then smbd with the ops their agents advertise', () => {
  const crm = renderPeerPoolConfig(['node-a', 'node-b'], { pool: 'tank', deviceDir: '/jbod', vip: '10.77.3.71', prefixLength: 24, nic: 'cli0', smbConf: '/p/smb.conf' });
  assert.match(crm, /stonith-enabled=true stonith-action=off/);
  assert.match(crm, /resource-stickiness=1/);
  assert.match(crm, /primitive fence-testbed stonith:fence_tandem_testbed params pcmk_host_list="node-a node-b"/);
  assert.match(crm, /primitive p-tank-pool ocf:heartbeat:ZFS params pool=tank importargs="-d \/jbod" .*op monitor interval=5s/);
  assert.match(crm, /primitive p-tank-ip ocf:heartbeat:IPaddr2 params ip=10\.77\.3\.71 cidr_netmask=24 nic=cli0 .*op monitor interval=10s/);
  assert.match(crm, /primitive p-tank-smb ocf:heartbeat:anything params binfile=\/usr\/sbin\/smbd cmdline_options="--foreground --no-process-group --configfile=\/p\/smb\.conf"/);
  assert.match(crm, /^group g-tank p-tank-pool p-tank-ip p-tank-smb$/m);
  assert.match(renderPeerPoolConfig(['node-a', 'node-b'], { pool: 'tank', deviceDir: '/jbod', vip: '10.77.3.71', prefixLength: 24, nic: 'cli0' }), /^group g-tank p-tank-pool p-tank-ip$/m);
});

test('fence agent: the fencer’s stdin, the command line, port/nodename as plug', () => {
  assert.deepEqual(parseFenceRequest([], 'action=off\nport=node-a\nnodename=node-a\n'), { action: 'off', plug: 'node-a' });
  assert.deepEqual(parseFenceRequest(['-o', 'status', '-n', 'node-b'], ''), { action: 'status', plug: 'node-b' });
  assert.deepEqual(parseFenceRequest(['--action=list'], ''), { action: 'list', plug: null });
  assert.deepEqual(parseFenceRequest([], 'plug=node-b\n'), { action: 'reboot', plug: 'node-b' });
});

test('fence agent: an unknown action or node, or off without a node, is refused', () => {
  assert.throws(() => parseFenceRequest(['-o', 'explode', '-n', 'node-a'], ''), /unknown action "explode"/);
  assert.throws(() => parseFenceRequest([], 'action=off\nplug=../etc\n'), /unknown node/);
  assert.throws(() => parseFenceRequest(['-o', 'off'], ''), /off needs the node/);
  assert.throws(() => parseFenceRequest(['--frobnicate'], ''), /unknown argument/);
});

test('fence agent metadata names the plug parameter and every action', () => {
  const xml = fenceMetadata();
  assert.match(xml, /<resource-agent name="fence_tandem_testbed"/);
  assert.match(xml, /<parameter name="plug" unique="0" required="1" obsoletes="port">/);
  for (const a of ['off', 'on', 'reboot', 'status', 'monitor', 'list', 'metadata']) assert.match(xml, new RegExp(`<action name="${a}"`));
});

test('the fence agent wrapper answers metadata itself and hands every other action to the agent in the testbed’s namespaces', () => {
  const sh = fenceAgentScript(new Paths('/var/lib/tb'));
  assert.match(sh, /^#!\/bin\/sh\n/);
  assert.match(sh, /action=metadata[\s\S]*<resource-agent name="fence_tandem_testbed"[\s\S]*\nEOF\n    exit 0/);
  assert.match(sh, /exec env 'TANDEM_TESTBED_DIR=\/var\/lib\/tb' 'TANDEM_TESTBED_ROOT_NS=net:\[\d+\],mnt:\[\d+\]' '\S+' '\S+\/bin\/fence-testbed' "\$@"/);
});
