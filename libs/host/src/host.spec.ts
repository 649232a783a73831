import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipCmd, parseIpAddr, parseIpLink } from './net';
import { parseMountInfo, poolMountPoints } from './mounts';
import { ProcessRunner, CommandFailedError, spawnStreaming } from './process-runner';

test('ip -j output is parsed; link-local IPv6 left out', () => {
  const addr = JSON.stringify([
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
    {
      ifname: 'cli0',
      addr_info: [
        { family: 'inet', local: '10.77.3.11', prefixlen: 24, scope: 'global' },
        { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' },
        { family: 'inet6', local: 'fd00::5', prefixlen: 64, scope: 'global' },
      ],
    },
  ]);
  assert.deepEqual(
    parseIpAddr(addr).map((a) => `${a.interface} ${a.address}/${a.prefix} v${a.family}`),
    ['lo 127.0.0.1/8 v4', 'cli0 10.77.3.11/24 v4', 'cli0 fd00::5/64 v6'],
  );
  const links = parseIpLink(
    JSON.stringify([
      { ifname: 'cli0', flags: ['BROADCAST', 'UP', 'LOWER_UP'], mtu: 1500, address: '02:00:00:00:00:01' },
      { ifname: 'hb0', flags: ['BROADCAST', 'UP'], mtu: 9000 },
    ]),
  );
  assert.deepEqual(
    links.map((l) => [l.name, l.up, l.carrier]),
    [
      ['cli0', true, true],
      ['hb0', true, false],
    ],
  );
});

test('ip and arping argv builders validate', () => {
  assert.deepEqual(ipCmd.addrAdd('cli0', '10.0.0.5', 24), ['ip', 'addr', 'add', '10.0.0.5/24', 'dev', 'cli0']);
  assert.throws(() => ipCmd.addrAdd('cli0;x', '10.0.0.5', 24));
  assert.throws(() => ipCmd.addrAdd('cli0', '10.0.0.5 ', 24));
  assert.throws(() => ipCmd.gratuitousArp('cli0', 'fd00::1', 3));
  assert.deepEqual(ipCmd.gratuitousArp('cli0', '10.0.0.5', 3), ['arping', '-U', '-c', '3', '-w', '4', '-I', 'cli0', '10.0.0.5']);
});

test('process runner: argv without a shell, exit codes, timeouts', async () => {
  const r = new ProcessRunner(5_000);
  const echo = await r.run(['echo', '$(id)', ';', 'ls']);
  assert.equal(echo.stdout, '$(id) ; ls\n', 'arguments are never interpreted by a shell');
  await assert.rejects(r.run(['false']), (e: unknown) => e instanceof CommandFailedError && e.exitCode === 1);
  assert.equal((await r.run(['false'], { allowFailure: true })).exitCode, 1);
  const t0 = Date.now();
  await assert.rejects(r.run(['sleep', '5'], { timeoutMs: 200 }), (e: unknown) => e instanceof CommandFailedError && e.timedOut);
  assert.ok(Date.now() - t0 < 3_000);
  await assert.rejects(r.run([]), /argv/);
});

test("host commands get PATH and nothing else of the service's environment: no secret reaches zpool, smbd or ganesha", async () => {
  process.env.TANDEM_CLUSTER_SECRET = 'a-secret-the-service-holds';
  try {
    const env = (await new ProcessRunner(5_000).run(['env'])).stdout.trim().split('\n');
    assert.deepEqual(
      env.map((l) => l.split('=')[0]),
      ['PATH'],
    );
    const streamed = spawnStreaming(['env'], { timeoutMs: 5_000, stdout: true });
    let out = '';
    for await (const chunk of streamed.stdout as AsyncIterable<Buffer>) out += chunk.toString('utf8');
    await streamed.done;
    assert.deepEqual(
      out
        .trim()
        .split('\n')
        .map((l) => l.split('=')[0]),
      ['PATH'],
    );
  } finally {
    delete process.env.TANDEM_CLUSTER_SECRET;
  }
});

test('mountinfo is parsed (optional fields, escapes); a pool mount table names only its ZFS filesystems', () => {
  const table = parseMountInfo(
    [
      '22 1 0:21 / /proc rw,nosuid shared:12 - proc proc rw',
      '112 79 0:53 / /var/lib/tb/mnt/chaos rw,relatime - fuse.zfs chaos rw,user_id=0',
      '113 112 0:54 / /var/lib/tb/mnt/chaos/my\\040files rw,relatime shared:5 master:1 - fuse.zfs chaos/my\\040files rw',
      '114 1 0:55 / /mnt/chaos2 rw - zfs chaos2 rw',
      '115 1 0:56 / /srv/fake rw - tmpfs chaos rw',
      'garbage line',
      '',
    ].join('\n'),
  );
  assert.deepEqual(
    table.map((m) => [m.mountId, m.parentId, m.mountPoint, m.fsType, m.source]),
    [
      [22, 1, '/proc', 'proc', 'proc'],
      [112, 79, '/var/lib/tb/mnt/chaos', 'fuse.zfs', 'chaos'],
      [113, 112, '/var/lib/tb/mnt/chaos/my files', 'fuse.zfs', 'chaos/my files'],
      [114, 1, '/mnt/chaos2', 'zfs', 'chaos2'],
      [115, 1, '/srv/fake', 'tmpfs', 'chaos'],
    ],
  );
  // chaos2 is another pool; a tmpfs named like the pool is not one of its filesystems
  assert.deepEqual(poolMountPoints(table, 'chaos'), ['/var/lib/tb/mnt/chaos', '/var/lib/tb/mnt/chaos/my files']);
  assert.deepEqual(poolMountPoints(table, 'tank'), []);
});
