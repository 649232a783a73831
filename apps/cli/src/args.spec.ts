import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { CommanderError } from 'commander';
import { DEFAULT_API, HelpShown, UsageError, isMutating, parseArgs, parseLun, parseLunSize, parseShare, parseSshAddress, parseVip, withShareAccess } from './args';

const ENV = { TANDEM_PASSWORD: 'tandem-admin' };

function usage(fn: () => unknown, field: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof UsageError && e.field === field && (!re || re.test(e.message)), `expected a usage error on ${field}`);
}

test('--vip IF:ADDRESS/PREFIX is checked with the contract', () => {
  assert.equal(parseVip('cli0:10.77.3.50/24'), 'cli0:10.77.3.50/24');
  assert.equal(parseVip('cli0:fd00::50/64'), 'cli0:fd00::50/64');
  usage(() => parseVip('cli0:999.1.1.1/24', 2), 'vips.2', /999\.1\.1\.1\/24/);
  usage(() => parseVip('10.0.0.1/24'), 'vips.0', /INTERFACE:ADDRESS\/PREFIX/);
  usage(() => parseVip('cli0:10.0.0.1/33'), 'vips.0');
  usage(() => parseVip('cli0:10.0.0.1'), 'vips.0');
  usage(() => parseVip('c li0:10.0.0.1/24'), 'vips.0', /interface/);
  usage(() => parseVip('$(reboot):10.0.0.1/24'), 'vips.0');
});

test('LUNs: --lun NAME:SIZE, pool lun add/remove/list; sizes checked with the contract', () => {
  assert.deepEqual(parseLun('vm1:64M'), { name: 'vm1', sizeBytes: 64 * 1024 * 1024 });
  assert.deepEqual(parseLun('db:2G', 1), { name: 'db', sizeBytes: 2 * 1024 ** 3 });
  assert.equal(parseLunSize('1048576', '--size', 'sizeBytes'), 1048576);
  usage(() => parseLun('vm1'), 'luns.0', /NAME:SIZE/);
  usage(() => parseLun('../x:64M', 2), 'luns.2', /NAME/);
  usage(() => parseLun('vm1:64Q'), 'luns.0', /K, M, G, T/);
  usage(() => parseLunSize('1000', '--size', 'sizeBytes'), 'sizeBytes', /multiple of 512/);
  usage(() => parseLunSize('512K', '--size', 'sizeBytes'), 'sizeBytes', /at least 1 MiB/);
  assert.deepEqual(parseArgs(['pool', 'attach', 'tank', '--node', 'node-a', '--vip', 'cli0:10.77.3.50/24', '--lun', 'vm1:64M', '--lun', 'vm2:1G'], ENV).invocation, {
    command: 'pool.attach',
    wait: false,
    body: {
      pool: 'tank',
      node: 'node-a',
      vips: ['cli0:10.77.3.50/24'],
      fc: false,
      shares: [],
      luns: [
        { name: 'vm1', sizeBytes: 64 << 20 },
        { name: 'vm2', sizeBytes: 1 << 30 },
      ],
    },
  });
  usage(() => parseArgs(['pool', 'attach', 'tank', '--node', 'node-a', '--fc', '--lun', 'a:1M', '--lun', 'a:2M'], ENV), 'luns', /LUN a is given twice/);
  assert.deepEqual(parseArgs(['pool', 'lun', 'add', 'tank', 'vm1', '--size', '64M'], ENV).invocation, { command: 'pool.lun-add', pool: 'tank', name: 'vm1', sizeBytes: 64 << 20 });
  assert.deepEqual(parseArgs(['pool', 'lun', 'remove', 'tank', 'vm1', '--yes'], ENV).invocation, { command: 'pool.lun-remove', pool: 'tank', name: 'vm1', yes: true });
  assert.deepEqual(parseArgs(['--json', 'pool', 'lun', 'list', 'tank'], ENV).invocation, { command: 'pool.lun-list', pool: 'tank' });
  usage(() => parseArgs(['pool', 'lun', 'add', 'tank', 'vm1', '--size', '7'], ENV), 'sizeBytes');
  usage(() => parseArgs(['pool', 'lun', 'remove', 'tank', '$(reboot)'], ENV), 'name');
  assert.ok(isMutating({ command: 'pool.lun-add', pool: 't', name: 'v', sizeBytes: 1 << 20 }));
  assert.ok(isMutating({ command: 'pool.lun-remove', pool: 't', name: 'v', yes: true }));
  assert.ok(!isMutating({ command: 'pool.lun-list', pool: 't' }));
});

test('--share NAME:smb|nfs[:PATH][:ro]', () => {
  assert.deepEqual(parseShare('data:smb'), { name: 'data', protocol: 'smb' });
  assert.deepEqual(parseShare('data:nfs:ro'), { name: 'data', protocol: 'nfs', readOnly: true });
  assert.deepEqual(parseShare('backup:nfs:backups/daily:ro'), { name: 'backup', protocol: 'nfs', path: 'backups/daily', readOnly: true });
  assert.deepEqual(parseShare('media:smb:media'), { name: 'media', protocol: 'smb', path: 'media' });
  assert.deepEqual(parseShare('odd:smb:ro:rw'), { name: 'odd', protocol: 'smb', path: 'ro' }, 'a directory named ro');
  assert.deepEqual(parseShare('t:smb:a:b'), { name: 't', protocol: 'smb', path: 'a:b' }, 'colons inside the path');
  usage(() => parseShare('data'), 'shares.0', /NAME:smb\|nfs/);
  usage(() => parseShare('data:', 1), 'shares.1');
  usage(() => parseShare('data:afp'), 'shares.0.protocol');
  // who may use a share, and NFS root squash
  const shares = [parseShare('files:smb'), parseShare('exp:nfs:x')];
  assert.deepEqual(withShareAccess(shares, ['files=10.77.3.0/24,fd77::/64', 'exp=10.77.4.0/24'], ['exp']), [
    { name: 'files', protocol: 'smb', clients: ['10.77.3.0/24', 'fd77::/64'] },
    { name: 'exp', protocol: 'nfs', path: 'x', clients: ['10.77.4.0/24'], rootSquash: false },
  ]);
  usage(() => withShareAccess(shares, ['files=10.77.3.0'], []), 'shares.0.clients', /not ADDRESS\/PREFIX/);
  usage(() => withShareAccess(shares, ['nope=10.77.3.0/24'], []), 'shares', /no share of that name/);
  usage(() => withShareAccess(shares, ['files'], []), 'shares', /NAME=CIDR/);
  usage(() => withShareAccess(shares, [], ['files']), 'shares.0.rootSquash', /only an NFS share/);
  usage(() => parseShare('da ta:smb'), 'shares.0.name');
  usage(() => parseShare('data:smb:../etc'), 'shares.0.path', /\.\./);
  usage(() => parseShare('data:smb:/abs'), 'shares.0.path');
});

test('pool commands parse into requests', () => {
  assert.deepEqual(parseArgs(['pool', 'list'], {}), { globals: { api: [DEFAULT_API], json: false }, invocation: { command: 'pool.list' } });
  assert.deepEqual(parseArgs(['pool', 'show', 'tank'], {}).invocation, { command: 'pool.show', pool: 'tank' });
  assert.deepEqual(
    parseArgs(
      ['pool', 'attach', 'tank', '--node', 'node-a', '--vip', 'cli0:10.77.3.50/24', '--vip', 'cli1:10.77.4.50/24', '--share', 'data:smb', '--share', 'b:nfs:x:ro', '--share-guest', 'data'],
      ENV,
    ).invocation,
    {
      command: 'pool.attach',
      body: {
        pool: 'tank',
        node: 'node-a',
        vips: ['cli0:10.77.3.50/24', 'cli1:10.77.4.50/24'],
        fc: false,
        shares: [
          { name: 'data', protocol: 'smb', guest: true },
          { name: 'b', protocol: 'nfs', path: 'x', readOnly: true },
        ],
      },
      wait: false,
    },
  );
  assert.deepEqual(parseArgs(['pool', 'attach', 'lun', '--node', 'node-b', '--fc'], ENV).invocation, {
    command: 'pool.attach',
    body: { pool: 'lun', node: 'node-b', vips: [], fc: true, shares: [] },
    wait: false,
  });
  assert.deepEqual(parseArgs(['pool', 'move', 'tank', '--to', 'node-b'], ENV).invocation, { command: 'pool.move', pool: 'tank', to: 'node-b' });
  assert.deepEqual(parseArgs(['pool', 'detach', 'tank'], ENV).invocation, { command: 'pool.detach', pool: 'tank' });
  assert.deepEqual(parseArgs(['pool', 'export', 'tank'], ENV).invocation, { command: 'pool.export', pool: 'tank', yes: false });
  assert.deepEqual(parseArgs(['pool', 'export', 'tank', '--yes'], ENV).invocation, { command: 'pool.export', pool: 'tank', yes: true });
  assert.deepEqual(parseArgs(['pool', 'reattach', 'tank', '--node', 'node-a'], ENV).invocation, { command: 'pool.reattach', pool: 'tank', node: 'node-a' });
  assert.deepEqual(parseArgs(['pool', 'remove', 'tank'], ENV).invocation, { command: 'pool.remove', pool: 'tank', yes: false });
  assert.deepEqual(parseArgs(['pool', 'remove', '--yes', 'tank'], ENV).invocation, { command: 'pool.remove', pool: 'tank', yes: true });
  assert.deepEqual(parseArgs(['log'], {}).invocation, { command: 'log', query: { limit: 20 } });
  assert.deepEqual(parseArgs(['log', '--limit', '5'], {}).invocation, { command: 'log', query: { limit: 5 } });
  assert.deepEqual(parseArgs(['log', '--before', '6f1c2d3e-aaaa-bbbb-cccc-0123456789ab', '--pool', 'tank', '--node', 'node-b', '--result', 'failed'], {}).invocation, {
    command: 'log',
    query: { limit: 20, before: '6f1c2d3e-aaaa-bbbb-cccc-0123456789ab', pool: 'tank', node: 'node-b', result: 'failed' },
  });
  assert.deepEqual(parseArgs(['events'], {}).invocation, { command: 'events' });
  assert.deepEqual(parseArgs(['events', '--entity', 'pool', '--id', 'tank'], {}).invocation, { command: 'events', entity: 'pool', id: 'tank' });
  assert.deepEqual(parseArgs(['events', '--entity', 'node'], {}).invocation, { command: 'events', entity: 'node' });
});

test('global options before or after the command, and from the environment', () => {
  assert.deepEqual(parseArgs(['--api', 'http://10.77.2.11:8080/', '--json', 'pool', 'list'], {}).globals, { api: ['http://10.77.2.11:8080'], json: true });
  assert.deepEqual(parseArgs(['pool', 'list', '--json', '--api', 'https://gw:8443'], {}).globals, { api: ['https://gw:8443'], json: true });
  assert.deepEqual(parseArgs(['pool', 'list'], { TANDEM_API: 'http://node-b:8080' }).globals, { api: ['http://node-b:8080'], json: false });
  // several APIs, the first that answers is used
  assert.deepEqual(parseArgs(['--api', 'https://10.77.2.11:8080/, https://10.77.2.12:8080', 'pool', 'list'], {}).globals.api, ['https://10.77.2.11:8080', 'https://10.77.2.12:8080']);
  assert.deepEqual(parseArgs(['pool', 'list'], { TANDEM_API: 'http://node-a:8080,http://node-b:8080' }).globals.api, ['http://node-a:8080', 'http://node-b:8080']);
  assert.deepEqual(parseArgs(['--api', 'http://node-c:8080', 'pool', 'list'], { TANDEM_API: 'http://node-a:8080,http://node-b:8080' }).globals.api, ['http://node-c:8080'], 'the option wins');
  usage(() => parseArgs(['--api', 'http://node-a:8080,ftp://x', 'pool', 'list'], {}), 'api', /"ftp:\/\/x"/);
  usage(() => parseArgs(['--api', ',', 'pool', 'list'], {}), 'api', /at least one URL/);
  assert.equal(parseArgs(['--password', 'pw', 'pool', 'remove', 'tank'], {}).globals.password, 'pw');
  assert.equal(parseArgs(['--password', 'pw', 'pool', 'remove', 'tank'], ENV).globals.password, 'pw', 'the option wins over the environment');
  usage(() => parseArgs(['--api', 'ftp://x', 'pool', 'list'], {}), 'api');
  usage(() => parseArgs(['--api', 'not a url', 'pool', 'list'], {}), 'api');
});

test('bad values are usage errors naming the field, checked before the password', () => {
  usage(() => parseArgs(['pool', 'attach', 'tank', '--node', 'node-a', '--vip', 'cli0:999.1.1.1/24'], {}), 'vips.0');
  usage(() => parseArgs(['pool', 'attach', 'tank', '--node', 'node-a'], ENV), 'vips', /--fc/);
  usage(() => parseArgs(['pool', 'attach', '; rm -rf /', '--node', 'node-a', '--fc'], ENV), 'pool', /^POOL: /);
  usage(() => parseArgs(['pool', 'attach', 'tank', '--node', 'Node A', '--fc'], ENV), 'node', /^--node: /);
  usage(() => parseArgs(['pool', 'move', 'tank', '--to', '$(reboot)'], ENV), 'to', /^--to: /);
  usage(() => parseArgs(['pool', 'show', 'raidz2'], {}), 'pool', /reserved/);
  usage(() => parseArgs(['log', '--limit', '0'], {}), 'limit');
  usage(() => parseArgs(['log', '--limit', 'ten'], {}), 'limit');
  usage(() => parseArgs(['log', '--pool', '$(reboot)'], {}), 'pool', /^--pool: /);
  usage(() => parseArgs(['log', '--node', 'Node_B'], {}), 'node', /^--node: /);
  usage(() => parseArgs(['log', '--before', 'a b'], {}), 'before', /cursor/);
  assert.throws(
    () => parseArgs(['log', '--result', 'done'], {}),
    (e: unknown) => e instanceof CommanderError && /Allowed choices are started, succeeded, failed/.test(e.message),
  );
  usage(() => parseArgs(['events', '--id', 'tank'], {}), 'id', /needs --entity/);
  usage(() => parseArgs(['events', '--entity', 'pool', '--id', 'a.b'], {}), 'id');
  assert.throws(() => parseArgs(['events', '--entity', 'disk'], {}), CommanderError);
  usage(() => parseArgs(['pool', 'move', 'tank', '--to', 'node-b'], {}), 'password', /needs the admin password/);
});

test("commander's own usage errors and help", () => {
  const errors: string[] = [];
  const out = { writeOut: () => undefined, writeErr: (s: string) => void errors.push(s) };
  for (const argv of [['pool', 'move', 'tank'], ['pool', 'frobnicate'], ['nope'], ['pool', 'list', '--bogus'], []]) {
    assert.throws(() => parseArgs(argv, ENV, out), CommanderError, argv.join(' '));
  }
  assert.ok(
    errors.some((e) => /^tandem: required option '--to <node>' not specified/.test(e)),
    errors.join('|'),
  );
  assert.throws(() => parseArgs(['--help'], {}), HelpShown);
  assert.throws(() => parseArgs(['pool', 'attach', '--help'], {}), HelpShown);
});

test('cluster, node and maintenance commands parse into requests', () => {
  assert.deepEqual(parseArgs(['cluster', 'create', '--heartbeat-interface', 'hb0'], ENV).invocation, { command: 'cluster.create', heartbeatInterface: 'hb0' });
  assert.deepEqual(parseArgs(['cluster', 'status'], {}), { globals: { api: [DEFAULT_API], json: false }, invocation: { command: 'cluster.status' } });
  assert.deepEqual(parseArgs(['node', 'offline', 'node-b'], ENV).invocation, { command: 'node.offline', node: 'node-b', yes: false });
  assert.deepEqual(parseArgs(['node', 'offline', 'node-b', '--yes'], ENV).invocation, { command: 'node.offline', node: 'node-b', yes: true });
  assert.deepEqual(parseArgs(['node', 'online', 'node-b'], ENV).invocation, { command: 'node.online', node: 'node-b' });
  assert.deepEqual(parseArgs(['node', 'remove', 'node-b'], ENV).invocation, { command: 'node.remove', node: 'node-b', yes: false });
  assert.deepEqual(parseArgs(['node', 'remove', 'node-b', '--yes'], ENV).invocation, { command: 'node.remove', node: 'node-b', yes: true });
  assert.deepEqual(parseArgs(['pool', 'importable', 'node-b'], ENV).invocation, { command: 'pool.importable', node: 'node-b' });
  assert.deepEqual(parseArgs(['maintenance', 'on'], ENV).invocation, { command: 'maintenance', on: true });
  assert.deepEqual(parseArgs(['maintenance', 'off'], ENV).invocation, { command: 'maintenance', on: false });
});

test("cluster join: --password is the peer's, sent in the body; the local gateway is asked with --local-password, TANDEM_PASSWORD or the same", () => {
  const join = (args: string[], env: Record<string, string>) => parseArgs(['cluster', 'join', ...args], env);
  const plain = join(['--peer', '10.77.1.11', '--password', 'peer-pw'], {});
  assert.deepEqual(plain.invocation, { command: 'cluster.join', peer: '10.77.1.11', password: 'peer-pw' });
  assert.equal(plain.globals.password, 'peer-pw', 'no local password given: the same');
  assert.equal(join(['--peer', '10.77.1.11', '--password', 'peer-pw'], ENV).globals.password, 'tandem-admin', 'TANDEM_PASSWORD for the local gateway');
  assert.equal(join(['--peer', '10.77.1.11', '--password', 'peer-pw', '--local-password', 'mine'], ENV).globals.password, 'mine', '--local-password wins');
  assert.deepEqual(
    parseArgs(['--password', 'peer-pw', 'cluster', 'join', '--peer', 'fd00::11'], {}).invocation,
    { command: 'cluster.join', peer: 'fd00::11', password: 'peer-pw' },
    'before the command too',
  );
  usage(() => join(['--peer', '10.77.1.11'], ENV), 'password', /needs the admin password of the node at --peer: --password-file FILE, TANDEM_PEER_PASSWORD, or --password/);
  usage(() => join(['--peer', '999.1.1.1', '--password', 'pw'], {}), 'peer', /^--peer "999\.1\.1\.1": must be an IPv4 or IPv6 address/);
  usage(() => join(['--peer', 'node-a', '--password', 'pw'], {}), 'peer');
  usage(() => join(['--peer', 'fe80::1%hb0', '--password', 'pw'], {}), 'peer', /zone/);
  usage(() => join(['--peer', '10.77.1.11', '--password', ''], {}), 'password', /must not be empty/);
  const fp = 'ab:'.repeat(31) + 'ab';
  assert.deepEqual(join(['--peer', '10.77.1.11', '--peer-fingerprint', fp, '--password', 'pw'], {}).invocation, { command: 'cluster.join', peer: '10.77.1.11', password: 'pw', peerFingerprint: fp });
  usage(() => join(['--peer', '10.77.1.11', '--peer-fingerprint', 'AB:CD', '--password', 'pw'], {}), 'peerFingerprint', /^--peer-fingerprint: must be a SHA-256 fingerprint/);
});

test('an https:// API is trusted by a CA file or by its certificate fingerprint; bad ones are usage errors', () => {
  const fp = 'AB:'.repeat(31) + 'AB';
  assert.deepEqual(parseArgs(['--api', 'https://10.77.2.11:8080', '--api-fingerprint', fp, 'cluster', 'status'], {}).globals.apiTrust, { fingerprint: fp });
  assert.deepEqual(parseArgs(['cluster', 'status'], { TANDEM_API: 'https://10.77.2.11:8080', TANDEM_API_FINGERPRINT: fp }).globals.apiTrust, { fingerprint: fp });
  assert.equal(parseArgs(['cluster', 'status'], {}).globals.apiTrust, undefined, 'none asked: the system CAs');
  usage(() => parseArgs(['--api-fingerprint', 'nope', 'cluster', 'status'], {}), 'api-fingerprint', /SHA-256 fingerprint/);
  usage(() => parseArgs(['--api-ca', '/nonexistent/ca.pem', 'cluster', 'status'], {}), 'api-ca', /cannot be read \(ENOENT\)/);
  usage(() => parseArgs(['--api-ca', '/etc/hostname', 'cluster', 'status'], {}), 'api-ca', /holds no PEM certificate/);
});

test('bad cluster values are usage errors naming the field, checked before the password', () => {
  usage(() => parseArgs(['cluster', 'create', '--heartbeat-interface', 'hb0;reboot'], {}), 'heartbeatInterface', /^--heartbeat-interface "hb0;reboot": must be a Linux interface name/);
  usage(() => parseArgs(['cluster', 'create', '--heartbeat-interface', 'x'.repeat(16)], {}), 'heartbeatInterface');
  usage(() => parseArgs(['node', 'offline', 'Node_B'], {}), 'node', /^NODE: /);
  usage(() => parseArgs(['node', 'online', '$(reboot)'], {}), 'node');
  usage(() => parseArgs(['node', 'remove', 'node-'], ENV), 'node');
  usage(() => parseArgs(['maintenance', 'yes'], ENV), 'on', /must be on or off/);
  for (const argv of [
    ['cluster', 'create', '--heartbeat-interface', 'hb0'],
    ['node', 'offline', 'node-b'],
    ['node', 'online', 'node-b'],
    ['node', 'remove', 'node-b'],
    ['maintenance', 'on'],
  ]) {
    usage(() => parseArgs(argv, {}), 'password', /needs the admin password/);
  }
  const errors: string[] = [];
  const out = { writeOut: () => undefined, writeErr: (s: string) => void errors.push(s) };
  assert.throws(() => parseArgs(['cluster', 'create'], ENV, out), CommanderError);
  assert.throws(() => parseArgs(['cluster', 'join', '--password', 'pw'], ENV, out), CommanderError);
  assert.throws(() => parseArgs(['node', 'offline'], ENV, out), CommanderError);
  assert.throws(() => parseArgs(['maintenance'], ENV, out), CommanderError);
  assert.ok(
    errors.some((e) => /^tandem: required option '--heartbeat-interface <IF>' not specified/.test(e)),
    errors.join('|'),
  );
  assert.ok(
    errors.some((e) => /^tandem: required option '--peer <IP>' not specified/.test(e)),
    errors.join('|'),
  );
});

test('pool attach --replicated: the body says so, and the first sync is followed unless --no-wait', () => {
  const attach = (...extra: string[]) => parseArgs(['pool', 'attach', 'tank', '--node', 'node-a', '--vip', 'cli0:10.77.3.50/24', ...extra], ENV).invocation;
  assert.deepEqual(attach('--replicated'), {
    command: 'pool.attach',
    body: { pool: 'tank', node: 'node-a', vips: ['cli0:10.77.3.50/24'], fc: false, shares: [], replicated: true },
    wait: true,
  });
  assert.deepEqual(attach('--replicated', '--no-wait'), {
    command: 'pool.attach',
    body: { pool: 'tank', node: 'node-a', vips: ['cli0:10.77.3.50/24'], fc: false, shares: [], replicated: true },
    wait: false,
  });
  const shared = attach('--no-wait');
  assert.ok(shared.command === 'pool.attach' && !('replicated' in shared.body) && shared.wait === false, 'a shared pool: nothing to follow');
  assert.deepEqual(parseArgs(['pool', 'attach', 'lun', '--node', 'node-b', '--fc', '--replicated'], ENV).invocation, {
    command: 'pool.attach',
    body: { pool: 'lun', node: 'node-b', vips: [], fc: true, shares: [], replicated: true },
    wait: true,
  });
  usage(() => parseArgs(['pool', 'attach', 'tank', '--node', 'node-a', '--replicated'], ENV), 'vips', /--fc/);
});

test('replication settings: no change shows them (no password), a change is the contract body with durations as given', () => {
  const show = parseArgs(['replication', 'settings'], {});
  assert.deepEqual(show.invocation, { command: 'replication.settings', body: {} });
  assert.equal(isMutating(show.invocation), false);
  const showPool = parseArgs(['replication', 'settings', '--pool', 'tank'], {});
  assert.deepEqual(showPool.invocation, { command: 'replication.settings', body: { pool: 'tank' } });
  assert.equal(isMutating(showPool.invocation), false);

  const all = parseArgs(
    [
      'replication',
      'settings',
      '--snapshot-interval',
      '15m',
      '--retention',
      '24',
      '--pull-interval',
      '3m',
      '--stall-timeout',
      '90s',
      '--ssh-address',
      'node-a=10.77.1.11',
      '--ssh-address',
      'node-b=fd00::12',
    ],
    ENV,
  );
  assert.deepEqual(all.invocation, {
    command: 'replication.settings',
    body: { snapshotInterval: '15m', retention: 24, pullInterval: '3m', stallTimeout: '90s', sshAddresses: { 'node-a': '10.77.1.11', 'node-b': 'fd00::12' } },
  });
  assert.equal(isMutating(all.invocation), true);
  assert.deepEqual(parseArgs(['replication', 'settings', '--pool', 'tank', '--retention', '3', '--snapshot-interval', '2h'], ENV).invocation, {
    command: 'replication.settings',
    body: { pool: 'tank', retention: 3, snapshotInterval: '2h' },
  });
  usage(() => parseArgs(['replication', 'settings', '--retention', '3'], {}), 'password', /^replication settings changes the cluster and needs the admin password/);
});

test('bad replication settings are usage errors naming the option, checked before the password', () => {
  const settings = (...args: string[]) => parseArgs(['replication', 'settings', ...args], {});
  usage(() => settings('--snapshot-interval', '15'), 'snapshotInterval', /^--snapshot-interval: "15" is not a duration: a whole number followed by s, m, h or d/);
  usage(() => settings('--pull-interval', '0s'), 'pullInterval', /^--pull-interval: "0s" is not a duration/);
  usage(() => settings('--stall-timeout', '1 minute'), 'stallTimeout', /^--stall-timeout: /);
  usage(() => settings('--retention', '0'), 'retention', /^--retention: must be at least 1/);
  usage(() => settings('--retention', '10001'), 'retention', /^--retention: /);
  usage(() => settings('--retention', 'ten'), 'retention', /^--retention "ten": must be a whole number/);
  usage(() => settings('--pool', 'raidz1', '--retention', '3'), 'pool', /^--pool: /);
  usage(() => settings('--ssh-address', 'node-b'), 'sshAddresses', /^--ssh-address "node-b": must be NODE=IP/);
  usage(() => settings('--ssh-address', 'node-a=10.77.1.11', '--ssh-address', 'node-b:10.77.1.12'), 'sshAddresses', /^--ssh-address "node-b:10\.77\.1\.12": must be NODE=IP/);
  usage(() => settings('--ssh-address', 'node-b=10.77.1'), 'sshAddresses.node-b', /^--ssh-address "node-b=10\.77\.1": "10\.77\.1" must be an IPv4 or IPv6 address/);
  usage(() => settings('--ssh-address', 'node-b=10.77.1.12', '--ssh-address', 'node-b=10.77.1.13'), 'sshAddresses.node-b', /given twice/);
  usage(() => settings('--pool', 'tank', '--ssh-address', 'node-b=10.77.1.12'), 'sshAddresses', /cluster-wide, not per pool/);
});

test('--ssh-address NODE=IP', () => {
  assert.deepEqual(parseSshAddress('node-b=10.77.1.12'), ['node-b', '10.77.1.12']);
  assert.deepEqual(parseSshAddress('node-b=fd00::12'), ['node-b', 'fd00::12']);
  for (const bad of ['', '=', 'node-b=', '=10.77.1.12', 'node-b 10.77.1.12']) usage(() => parseSshAddress(bad), 'sshAddresses', /^--ssh-address "[^"]*": must be NODE=IP$/);
  usage(() => parseSshAddress('Node_B=10.77.1.12'), 'sshAddresses', /^--ssh-address "Node_B=10\.77\.1\.12": node "Node_B" must be lowercase/);
  usage(() => parseSshAddress('node-b=$(reboot)'), 'sshAddresses.node-b', /IPv4 or IPv6/);
  usage(() => parseSshAddress('node-b=10.77.1.12=x'), 'sshAddresses.node-b');
});

test('replication status, resume and keys rotate', () => {
  assert.deepEqual(parseArgs(['replication', 'status'], {}).invocation, { command: 'replication.status' });
  assert.deepEqual(parseArgs(['replication', 'status', 'tank', '--json'], {}), { globals: { api: [DEFAULT_API], json: true }, invocation: { command: 'replication.status', pool: 'tank' } });
  assert.deepEqual(parseArgs(['replication', 'resume', 'tank'], ENV).invocation, { command: 'replication.resume', pool: 'tank' });
  assert.deepEqual(parseArgs(['replication', 'keys', 'rotate', '--node', 'node-b'], ENV).invocation, { command: 'replication.keys-rotate', node: 'node-b' });
  usage(() => parseArgs(['replication', 'status', '; rm -rf /'], {}), 'pool', /^POOL: /);
  usage(() => parseArgs(['replication', 'resume', 'mirror'], ENV), 'pool', /^POOL: .*reserved/);
  usage(() => parseArgs(['replication', 'keys', 'rotate', '--node', 'Node_B'], ENV), 'node', /^--node: /);
  usage(() => parseArgs(['replication', 'resume', 'tank'], {}), 'password', /^replication resume changes the cluster/);
  usage(() => parseArgs(['replication', 'keys', 'rotate', '--node', 'node-b'], {}), 'password', /^replication keys rotate changes the cluster/);
  const errors: string[] = [];
  const out = { writeOut: () => undefined, writeErr: (s: string) => void errors.push(s) };
  assert.throws(() => parseArgs(['replication', 'keys', 'rotate'], ENV, out), CommanderError);
  assert.throws(() => parseArgs(['replication', 'resume'], ENV, out), CommanderError);
  assert.ok(
    errors.some((e) => /^tandem: required option '--node <node>' not specified/.test(e)),
    errors.join('|'),
  );
});

test('a password never has to be on the command line: --password-file (its first line), TANDEM_PASSWORD, TANDEM_PEER_PASSWORD for a join', () => {
  const dir = mkdtempSync(joinPath(tmpdir(), 'cli-pw-'));
  const file = joinPath(dir, 'admin');
  writeFileSync(file, 'from-file\nsecond line ignored\n', { mode: 0o600 });
  assert.equal(parseArgs(['--password-file', file, 'pool', 'remove', 'tank'], {}).globals.password, 'from-file');
  assert.equal(parseArgs(['--password-file', file, 'pool', 'remove', 'tank'], ENV).globals.password, 'from-file', 'the file wins over the environment');
  assert.equal(parseArgs(['--password', 'pw', '--password-file', file, 'pool', 'remove', 'tank'], {}).globals.password, 'pw', '--password wins over the file');
  // a join: the peer's password from the file or TANDEM_PEER_PASSWORD, this node's from TANDEM_PASSWORD
  const fromFile = parseArgs(['--password-file', file, 'cluster', 'join', '--peer', '10.77.1.11'], ENV);
  assert.deepEqual(fromFile.invocation, { command: 'cluster.join', peer: '10.77.1.11', password: 'from-file' });
  assert.equal(fromFile.globals.password, 'tandem-admin');
  const fromEnv = parseArgs(['cluster', 'join', '--peer', '10.77.1.11'], { ...ENV, TANDEM_PEER_PASSWORD: 'peer-env' });
  assert.deepEqual(fromEnv.invocation, { command: 'cluster.join', peer: '10.77.1.11', password: 'peer-env' });
  // a file that cannot be used is a usage error naming the option
  usage(() => parseArgs(['--password-file', joinPath(dir, 'missing'), 'pool', 'remove', 'tank'], {}), 'password-file', /--password-file .*missing: cannot be read \(ENOENT\)/);
  writeFileSync(joinPath(dir, 'empty'), '\n');
  usage(() => parseArgs(['--password-file', joinPath(dir, 'empty'), 'pool', 'remove', 'tank'], {}), 'password-file', /its first line is empty/);
});

test('--share-users and --share-guest say who gets into an SMB share; one of them is needed', () => {
  const attach = (...extra: string[]) =>
    parseArgs(['pool', 'attach', 'tank', '--node', 'node-a', '--vip', 'cli0:10.77.3.50/24', '--share', 'team:smb:team', '--share', 'pub:smb', ...extra], ENV).invocation;
  assert.deepEqual((attach('--share-users', 'team=alice,bob', '--share-guest', 'pub') as { body: { shares: unknown[] } }).body.shares, [
    { name: 'team', protocol: 'smb', path: 'team', users: ['alice', 'bob'] },
    { name: 'pub', protocol: 'smb', guest: true },
  ]);
  usage(() => attach('--share-guest', 'pub'), 'shares.0.users', /needs its users/);
  usage(() => attach('--share-users', 'team=alice', '--share-guest', 'team', '--share-guest', 'pub'), 'shares.0.guest', /cannot also let guests in/);
  usage(() => attach('--share-users', 'team=Alice', '--share-guest', 'pub'), 'shares.0.users');
  usage(() => attach('--share-users', 'team=root', '--share-guest', 'pub'), 'shares.0.users');
  usage(() => attach('--share-users', 'nope=alice', '--share-guest', 'pub'), 'shares', /no share of that name/);
  usage(() => attach('--share-users', 'team', '--share-guest', 'pub'), 'shares', /NAME=USER/);
  usage(() => parseArgs(['pool', 'attach', 'tank', '--node', 'node-a', '--vip', 'cli0:10.77.3.50/24', '--share', 'lab:nfs', '--share-guest', 'lab'], ENV), 'shares.0', /only an SMB share/);
});

test('share user commands: names and passwords checked before anything is sent; the password never on the command line', () => {
  const dir = mkdtempSync(joinPath(tmpdir(), 'tandem-share-user-'));
  const file = joinPath(dir, 'pw');
  writeFileSync(file, 'correct horse\nignored\n');
  assert.deepEqual(parseArgs(['share', 'user', 'list'], {}).invocation, { command: 'share-user.list' });
  assert.deepEqual(parseArgs(['share', 'user', 'add', 'alice', '--user-password-file', file], ENV).invocation, { command: 'share-user.add', name: 'alice', password: 'correct horse' });
  assert.deepEqual(parseArgs(['share', 'user', 'passwd', 'alice'], { ...ENV, TANDEM_SHARE_PASSWORD: 'from the env' }).invocation, {
    command: 'share-user.passwd',
    name: 'alice',
    password: 'from the env',
  });
  assert.deepEqual(parseArgs(['share', 'user', 'add', 'bob'], ENV).invocation, { command: 'share-user.add', name: 'bob' }, 'no password given: asked at the terminal');
  assert.deepEqual(parseArgs(['share', 'user', 'remove', 'alice'], ENV).invocation, { command: 'share-user.remove', name: 'alice' });
  usage(() => parseArgs(['share', 'user', 'add', 'Root'], ENV), 'name');
  usage(() => parseArgs(['share', 'user', 'add', 'nobody'], ENV), 'name', /system account/);
  usage(() => parseArgs(['share', 'user', 'add', 'alice'], { ...ENV, TANDEM_SHARE_PASSWORD: 'short' }), 'password', /at least 8/);
  usage(() => parseArgs(['share', 'user', 'add', 'alice', '--user-password-file', joinPath(dir, 'missing')], ENV), 'user-password-file', /cannot be read/);
  usage(() => parseArgs(['share', 'user', 'remove', 'alice'], {}), 'password', /admin password/);
  rmSync(dir, { recursive: true, force: true });
});

test('pool chap set: the secret from --secret-file or TANDEM_CHAP_SECRET, never an argument, checked with the contract; pool chap clear', () => {
  const dir = mkdtempSync(joinPath(tmpdir(), 'tandem-chap-'));
  try {
    const file = joinPath(dir, 'secret');
    writeFileSync(file, 'From-File-Secret\nignored\n');
    assert.deepEqual(parseArgs(['pool', 'chap', 'set', 'tank', '--user', 'esx1', '--secret-file', file], ENV).invocation, {
      command: 'pool.chap-set',
      pool: 'tank',
      user: 'esx1',
      secret: 'From-File-Secret',
    });
    assert.deepEqual(parseArgs(['pool', 'chap', 'set', 'tank', '--user', 'esx1'], { ...ENV, TANDEM_CHAP_SECRET: 'From-Env-Secret1' }).invocation, {
      command: 'pool.chap-set',
      pool: 'tank',
      user: 'esx1',
      secret: 'From-Env-Secret1',
    });
    usage(() => parseArgs(['pool', 'chap', 'set', 'tank', '--user', 'esx1'], ENV), 'secret', /--secret-file FILE or env TANDEM_CHAP_SECRET/);
    usage(() => parseArgs(['pool', 'chap', 'set', 'tank', '--user', 'esx1'], { ...ENV, TANDEM_CHAP_SECRET: 'short' }), 'secret', /at least 12/);
    usage(() => parseArgs(['pool', 'chap', 'set', 'tank', '--user', 'esx1'], { ...ENV, TANDEM_CHAP_SECRET: 'has a space 123' }), 'secret', /no spaces/);
    usage(() => parseArgs(['pool', 'chap', 'set', 'tank', '--user', 'a b'], { ...ENV, TANDEM_CHAP_SECRET: 'Good-Secret-12' }), 'user');
    assert.deepEqual(parseArgs(['pool', 'chap', 'clear', 'tank'], ENV).invocation, { command: 'pool.chap-clear', pool: 'tank' });
    assert.ok(isMutating({ command: 'pool.chap-clear', pool: 'tank' }), 'it changes the cluster: it needs the admin password');
    assert.ok(isMutating({ command: 'pool.chap-set', pool: 'tank', user: 'esx1', secret: 'Good-Secret-12' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
