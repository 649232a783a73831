import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '@tandem/contracts';
import { datasetsFromGet, parseImportScan, parseMountState, parseSize, parseZpoolList, parseZpoolStatus, snapshotsFromGet, suspendedPools } from './parsers';
import { zfs, zpool } from './commands';
import { zfsError } from './errors';

// Outputs captured from zfs-fuse 0.7 (pool version 23).
const ZPOOL_LIST = 'tank\t123M\t1.22M\t122M\tONLINE\t10595739131997140418\nbackup\t1.5G\t0\t1.5G\tDEGRADED\t42\n';
const ZPOOL_STATUS = `  pool: tank
 state: ONLINE
 scrub: none requested
config:

\tNAME                STATE     READ WRITE CKSUM
\ttank                ONLINE       0     0     0
\t  /tmp/exp/jbod/d1  ONLINE       0     0     3

errors: No known data errors
`;
const IMPORT_SCAN = `  pool: tank
    id: 4009035309180830462
 state: ONLINE
action: The pool can be imported using its name or numeric identifier.
config:

\ttank                ONLINE
\t  /tmp/exp/jbod/d1  ONLINE

  pool: other
    id: 77
 state: DEGRADED
action: The pool can be imported despite missing or damaged devices.
config:

\tother               DEGRADED
\t  /tmp/exp/jbod/o1  ONLINE
\t  /tmp/exp/jbod/o2  UNAVAIL
`;
const ZFS_GET = [
  'tank\ttype\tfilesystem',
  'tank\tmountpoint\t/tank',
  'tank\tused\t999424',
  'tank\tavailable\t94420992',
  'tank@s1\ttype\tsnapshot',
  'tank@s1\tmountpoint\t-',
  'tank/fs\ttype\tfilesystem',
  'tank/fs\tguid\t15930158184660198650',
  'tank/fs\tcreation\t1795302972',
  'tank/fs\tuserrefs\t-',
  'tank/fs@s2\ttype\tsnapshot',
  'tank/fs@s2\tguid\t8453430360691089514',
  'tank/fs@s2\tcreation\t1795302975',
  'tank/fs@s2\tuserrefs\t1',
  'tank/fs@s2\treferenced\t122880',
  'tank/fs@s1\ttype\tsnapshot',
  'tank/fs@s1\tguid\t12998053570366378315',
  'tank/fs@s1\tcreation\t1795302972',
  'tank/fs@s1\tuserrefs\t0',
  'tank/fs/child@s1\ttype\tsnapshot',
  'tank/fs/child@s1\tguid\t1',
  'tank/fs/child@s1\tcreation\t1795302972',
].join('\n');

test('sizes in zpool units', () => {
  assert.equal(parseSize('0'), 0);
  assert.equal(parseSize('-'), 0);
  assert.equal(parseSize('1020K'), 1020 * 1024);
  assert.equal(parseSize('1.5G'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('250M'), 250 * 1024 ** 2);
  assert.throws(() => parseSize('12Q'));
});

test('zpool list', () => {
  const pools = parseZpoolList(ZPOOL_LIST);
  assert.deepEqual(pools[0], { name: 'tank', sizeBytes: 123 * 1024 ** 2, allocatedBytes: Math.round(1.22 * 1024 ** 2), freeBytes: 122 * 1024 ** 2, health: 'ONLINE', guid: '10595739131997140418' });
  assert.equal(pools[1].health, 'DEGRADED');
  assert.deepEqual(parseZpoolList(''), []);
  assert.throws(() => parseZpoolList('tank\t1M\n'));
});

test('zpool status: state, vdevs with error counters', () => {
  const s = parseZpoolStatus(ZPOOL_STATUS);
  assert.equal(s.name, 'tank');
  assert.equal(s.state, 'ONLINE');
  assert.equal(s.errors, 'No known data errors');
  assert.deepEqual(
    s.vdevs.map((v) => [v.name, v.cksum, v.depth]),
    [
      ['tank', 0, 0],
      ['/tmp/exp/jbod/d1', 3, 1],
    ],
  );
  assert.throws(() => parseZpoolStatus('garbage'));
});

test('zpool import scan: every importable pool with its devices', () => {
  const p = parseImportScan(IMPORT_SCAN);
  assert.deepEqual(
    p.map((x) => [x.name, x.id, x.state]),
    [
      ['tank', '4009035309180830462', 'ONLINE'],
      ['other', '77', 'DEGRADED'],
    ],
  );
  assert.deepEqual(p[1].devices, ['/tmp/exp/jbod/o1', '/tmp/exp/jbod/o2']);
  assert.deepEqual(parseImportScan(''), []);
});

test('datasets and snapshots from zfs get', () => {
  const ds = datasetsFromGet(ZFS_GET);
  assert.deepEqual(
    ds.map((d) => d.name),
    ['tank', 'tank/fs'],
  );
  assert.equal(ds[0].usedBytes, 999424);
  const own = snapshotsFromGet(ZFS_GET, 'tank/fs');
  assert.deepEqual(
    own.map((s) => s.snapshot),
    ['s1', 's2'],
    'only tank/fs snapshots, oldest first',
  );
  assert.equal(own[1].userrefs, 1);
  assert.equal(own[1].referencedBytes, 122880, 'referenced: the estimate of a full send');
  assert.equal('referencedBytes' in own[0], false, 'no referenced asked for, none reported');
  assert.equal(own[0].guid, '12998053570366378315');
  assert.equal(own[0].createdAt, new Date(1795302972 * 1000).toISOString());
  assert.equal(snapshotsFromGet(ZFS_GET).length, 4);
});

test('command builders produce argv arrays and refuse bad names', () => {
  assert.deepEqual(zpool.import('tank', '/jbod', true), ['zpool', 'import', '-d', '/jbod', '-o', 'cachefile=none', '-f', 'tank']);
  assert.deepEqual(zpool.importAll(['/links/a', '/links/b'], true, true), ['zpool', 'import', '-d', '/links/a', '-d', '/links/b', '-o', 'cachefile=none', '-o', 'ro', '-f', '-a']);
  assert.throws(() => zpool.importAll(['relative/dir'], false));
  assert.deepEqual(zpool.export('tank', false), ['zpool', 'export', 'tank']);
  assert.deepEqual(zfs.send('tank/a@s2', 'tank/a@s1'), ['zfs', 'send', '-i', 'tank/a@s1', 'tank/a@s2']);
  assert.deepEqual(zfs.receive('tank/copy', true), ['zfs', 'receive', '-u', '-F', 'tank/copy']);
  assert.deepEqual(zfs.sendIncremental('tank/a@s3', 'tank/a@s1'), ['zfs', 'send', '-I', 'tank/a@s1', 'tank/a@s3']);
  assert.deepEqual(zfs.rollback('tank/a@s1'), ['zfs', 'rollback', '-r', 'tank/a@s1']);
  assert.deepEqual(zfs.createUnmounted('tank/tandem-kept'), ['zfs', 'create', '-o', 'mountpoint=none', 'tank/tandem-kept']);
  assert.deepEqual(zfs.destroySnapshotRecursive('tank/tandem-kept@x'), ['zfs', 'destroy', '-r', 'tank/tandem-kept@x']);
  assert.ok(zfs.getSnapshots('tank').includes('type,guid,creation,userrefs,referenced'));
  assert.throws(() => zfs.sendIncremental('tank/a@s3', '-R'));
  assert.throws(() => zfs.rollback('tank/a'), 'a rollback needs a snapshot');
  assert.throws(() => zfs.destroySnapshotRecursive('tank/tandem-kept'), 'never a recursive destroy of a dataset');
  assert.throws(() => zpool.import('tank; reboot', '/jbod', false));
  assert.throws(() => zpool.import('tank', 'relative/dir', false));
  assert.throws(() => zfs.hold('tank/a@s1', '-r'));
  assert.throws(() => zfs.snapshot('tank', '$(x)', false));
});

test('zfs failures map to typed codes and keep the original words', () => {
  const cases: Array<[string, ErrorCode]> = [
    ["cannot open 'nope': no such pool", ErrorCode.PoolNotFound],
    ["cannot import 'nope': no such pool available", ErrorCode.PoolNotImportable],
    ["cannot export 'tank': pool is busy", ErrorCode.PoolBusy],
    ["cannot create snapshot 'tank@s1': dataset already exists", ErrorCode.AlreadyExists],
    ["cannot open 'tank@nope': dataset does not exist", ErrorCode.DatasetNotFound],
    ["cannot release 'x' from 'tank@s1': no such tag on this dataset", ErrorCode.NotFound],
    ['something new', ErrorCode.CommandFailed],
  ];
  for (const [stderr, code] of cases) {
    const e = zfsError(['zpool', 'x'], stderr);
    assert.equal(e.code, code, stderr);
    assert.equal(e.detail, stderr);
  }
  assert.equal(zfsError(['zpool', 'export'], '', true).code, ErrorCode.Timeout);
});

test('zpool status -x: pools suspended after device failures (zfs-fuse still says ONLINE)', () => {
  // as zfs-fuse printed it here after every write to the pool's vdev failed with EIO
  const out = [
    '  pool: tank',
    ' state: ONLINE',
    'status: One or more devices are faulted in response to IO failures.',
    "action: Make sure the affected devices are connected, then run 'zpool clear'.",
    '   see: http://www.sun.com/msg/ZFS-8000-HC',
    ' scrub: none requested',
    'config:',
    '',
    '\tNAME              STATE     READ WRITE CKSUM',
    '\ttank              ONLINE       0    38     0',
    '\t  /tmp/exp/vdev0  ONLINE       0     8     0',
    '',
    "errors: 3 data errors, use '-v' for a list",
    '',
    '  pool: degraded',
    ' state: DEGRADED',
    'status: One or more devices could not be opened.  Sufficient replicas exist for',
    '   see: http://www.sun.com/msg/ZFS-8000-2Q',
    'config:',
    '',
    '  pool: other',
    ' state: SUSPENDED',
    '',
  ].join('\n');
  assert.deepEqual(suspendedPools(out), ['tank', 'other']);
  assert.deepEqual(suspendedPools('all pools are healthy\n'), []);
  assert.deepEqual(suspendedPools(''), []);
});

test('the disk probe writes one user property on the pool, never on a bad name', () => {
  assert.deepEqual(zfs.probe('tank', 1234.9), ['zfs', 'set', 'tandem:probe=1234', 'tank']);
  assert.throws(() => zfs.probe('tank; rm -rf /', 1));
});

test('several device directories, read-only mounts at import, and the role builders', () => {
  assert.deepEqual(zpool.scanImportable(['/jbod', '/var/lib/tandem/disks']), ['zpool', 'import', '-d', '/jbod', '-d', '/var/lib/tandem/disks']);
  assert.deepEqual(zpool.scanImportable(['/jbod', '/jbod']), ['zpool', 'import', '-d', '/jbod'], 'one -d per directory');
  assert.deepEqual(zpool.import('tank', ['/jbod', '/disks'], false, true), ['zpool', 'import', '-d', '/jbod', '-d', '/disks', '-o', 'cachefile=none', '-o', 'ro', 'tank']);
  assert.deepEqual(zpool.import('tank', ['/jbod'], true), ['zpool', 'import', '-d', '/jbod', '-o', 'cachefile=none', '-f', 'tank']);
  assert.throws(() => zpool.scanImportable([]));
  assert.throws(() => zpool.scanImportable(['/jbod', 'disks']), 'every directory is checked');

  assert.deepEqual(zfs.setCanmount('tank/a', 'noauto'), ['zfs', 'set', 'canmount=noauto', 'tank/a']);
  assert.deepEqual(zfs.setReadonly('tank', 'on'), ['zfs', 'set', 'readonly=on', 'tank']);
  assert.deepEqual(zfs.inheritReadonly('tank/a'), ['zfs', 'inherit', 'readonly', 'tank/a']);
  assert.deepEqual(zfs.mount('tank/a'), ['zfs', 'mount', 'tank/a']);
  assert.deepEqual(zfs.unmount('tank/a'), ['zfs', 'unmount', 'tank/a']);
  assert.deepEqual(zfs.getMountState('tank'), ['zfs', 'get', '-H', '-p', '-r', '-o', 'name,property,value,source', 'type,canmount,mounted,mountpoint,readonly', 'tank']);
  assert.deepEqual(zfs.getMountState('tank', 'pool2').slice(-2), ['tank', 'pool2']);
  assert.throws(() => zfs.getMountState('tank', '-r'));
  assert.throws(() => zfs.setCanmount('tank', 'on,readonly=off' as never));
  assert.throws(() => zfs.setReadonly('tank', 'yes' as never));
  assert.throws(() => zfs.mount('-a'));
  assert.throws(() => zfs.unmount('tank/a@s1'), 'a snapshot is not unmounted');
  assert.throws(() => zfs.inheritReadonly('tank; reboot'));
});

test('mount state: the stored readonly behind a temporary (mount option) value', () => {
  // as zfs-fuse printed it: tank and tank/a mounted after readonly=on was set (its mounts always
  // say rw: "off temporary", writes fail), tank/c unmounted, a kept-aside copy never mounted
  const out = [
    'tank\ttype\tfilesystem\t-',
    'tank\tcanmount\ton\tlocal',
    'tank\tmounted\tyes\t-',
    'tank\tmountpoint\t/tmp/zx/mnt/tank\tlocal',
    'tank\treadonly\toff\ttemporary',
    'tank/a@s1\ttype\tsnapshot\t-',
    'tank/a@s1\treadonly\t-\t-',
    'tank/c\ttype\tfilesystem\t-',
    'tank/c\tcanmount\ton\tdefault',
    'tank/c\tmounted\tno\t-',
    'tank/c\tmountpoint\t/tmp/zx/mnt/tank/c\tinherited from tank',
    'tank/c\treadonly\ton\tinherited from tank',
    'tank/tandem-kept/k1\ttype\tfilesystem\t-',
    'tank/tandem-kept/k1\tcanmount\tnoauto\tlocal',
    'tank/tandem-kept/k1\tmounted\tno\t-',
    'tank/tandem-kept/k1\tmountpoint\tnone\tlocal',
    'tank/tandem-kept/k1\treadonly\ton\tinherited from tank',
    'tank/a\ttype\tfilesystem\t-',
    'tank/a\tcanmount\tnoauto\tlocal',
    'tank/a\tmounted\tyes\t-',
    'tank/a\tmountpoint\t/tmp/zx/mnt/tank/a\tinherited from tank',
    'tank/a\treadonly\ton\ttemporary',
  ].join('\n');
  const s = parseMountState(out);
  assert.deepEqual(
    s.map((f) => f.name),
    ['tank', 'tank/a', 'tank/c', 'tank/tandem-kept/k1'],
    'filesystems only, parents first',
  );
  const [tank, a, c, kept] = s;
  assert.deepEqual(tank, { name: 'tank', canmount: 'on', mounted: true, mountpoint: '/tmp/zx/mnt/tank', readonly: true, readonlySource: 'temporary', mountedReadOnly: false });
  // imported with -o ro while the stored value is off: "on temporary"
  assert.deepEqual([a.canmount, a.readonly, a.mountedReadOnly], ['noauto', false, true]);
  assert.deepEqual([c.mounted, c.readonly, c.readonlySource, c.mountedReadOnly], [false, true, 'inherited', false]);
  assert.equal(kept.mountpoint, null, 'mountpoint none: never mounted');
  assert.deepEqual(parseMountState(''), []);
  assert.throws(() => parseMountState('tank\ttype\tfilesystem\t-\ntank\tcanmount\tmaybe\tlocal\n'));
});
