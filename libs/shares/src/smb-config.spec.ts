import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShareError } from './errors';
import { nfsDirs, renderGaneshaConf } from './nfs-config';
import { renderSmbConf, smbDirs, smbpasswdLine } from './smb-config';
import { ShareInstanceSpec } from './types';
import { canonicalAddress, validateShareSpec } from './validate';

const base = '/var/lib/tandem/shares/tank/smb';

function spec(overrides: Partial<ShareInstanceSpec> = {}): ShareInstanceSpec {
  return {
    pool: 'tank',
    protocol: 'smb',
    addresses: ['10.77.9.1', '10.77.9.4'],
    shares: [
      { name: 'projects', path: '/tank/projects', readOnly: false },
      { name: 'archive', path: '/tank/archive', readOnly: true },
    ],
    ...overrides,
  };
}

/** Parses smb.conf text into { section: { key: value } } as Samba reads it. */
function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1];
      out[section] = {};
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not key = value: ${line}`);
    out[section][line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

test('renderSmbConf binds only to the pool addresses with every directory of its own', () => {
  const conf = parseIni(renderSmbConf(spec(), smbDirs(base)));
  const g = conf.global;
  assert.equal(g['interfaces'], '10.77.9.1 10.77.9.4');
  assert.equal(g['bind interfaces only'], 'yes');
  assert.equal(g['smb ports'], '445');
  assert.equal(g['disable netbios'], 'yes');
  assert.equal(g['map to guest'], 'Bad User');
  for (const [key, dir] of [
    ['pid directory', 'run'],
    ['lock directory', 'lock'],
    ['state directory', 'state'],
    ['cache directory', 'cache'],
    ['private dir', 'private'],
    ['ncalrpc dir', 'ncalrpc'],
  ]) {
    assert.equal(g[key], `${base}/${dir}`, key);
  }
  assert.equal(g['log file'], `${base}/log.smbd`);
});

test('renderSmbConf writes one section per share, sorted, with guest access and read-only flag', () => {
  const text = renderSmbConf(spec(), smbDirs(base), { guestAccount: 'nobody' });
  const conf = parseIni(text);
  assert.deepEqual(Object.keys(conf), ['global', 'archive', 'projects']);
  assert.equal(conf.projects['path'], '/tank/projects');
  assert.equal(conf.projects['read only'], 'no');
  assert.equal(conf.archive['read only'], 'yes');
  assert.equal(conf.archive['guest ok'], 'yes');
  assert.equal(conf.global['guest account'], 'nobody');
  assert.equal(conf.archive['force user'], undefined, 'guests act as the guest account, not a forced user (who could not write to its own files again)');
  assert.match(renderSmbConf(spec(), smbDirs(base)), /^ {2}guest account = nobody$/m, 'guests act as nobody unless told otherwise: never root by default');
  assert.match(renderSmbConf(spec(), smbDirs(base), { guestAccount: 'smbguest' }), /^ {2}guest account = smbguest$/m);
  // Deterministic: the same spec renders the same bytes (start() relies on it for no-ops).
  assert.equal(renderSmbConf(spec({ shares: [...spec().shares].reverse() }), smbDirs(base), { guestAccount: 'nobody' }), text);
});

test('renderGaneshaConf: NFSv4 only, bound to the single address, one export per share', () => {
  const text = renderGaneshaConf(
    spec({
      protocol: 'nfs',
      addresses: ['10.77.9.1'],
      shares: [
        { name: 'projects', path: '/tank/projects', readOnly: false, exportId: 2 },
        { name: 'archive', path: '/tank/archive', readOnly: true, exportId: 1 },
      ],
    }),
    nfsDirs('/st/shares/tank/nfs'),
    { graceSeconds: 5, leaseSeconds: 10 },
  );
  assert.match(text, /Bind_addr = 10\.77\.9\.1;/);
  assert.match(text, /^\s*Protocols = 4;/m);
  assert.match(text, /Enable_NLM = false;/);
  assert.match(text, /RecoveryRoot = "\/st\/shares\/tank\/nfs\/recovery";/);
  assert.match(text, /Lease_Lifetime = 10;/);
  assert.match(text, /Grace_Period = 10;/, 'grace is never shorter than the lease');
  const exports = text.split('EXPORT {').slice(1);
  assert.equal(exports.length, 2);
  assert.match(exports[0], /Export_Id = 1;[\s\S]*Path = "\/tank\/archive";[\s\S]*Pseudo = "\/archive";[\s\S]*Access_Type = RO;/);
  assert.match(exports[1], /Export_Id = 2;[\s\S]*Path = "\/tank\/projects";[\s\S]*Access_Type = RW;/);
  assert.throws(() => renderGaneshaConf(spec({ protocol: 'nfs' }), nfsDirs('/st')), /exactly one address/);
});

test("renderGaneshaConf squashes a client's root unless told not to, and lists the allowed client networks", () => {
  const text = renderGaneshaConf(
    spec({
      protocol: 'nfs',
      addresses: ['10.77.9.1'],
      shares: [
        { name: 'open', path: '/tank/open', readOnly: false, exportId: 1 },
        { name: 'lab', path: '/tank/lab', readOnly: true, exportId: 2, clients: ['10.77.8.0/24', 'fd77:8::/64'], rootSquash: false },
      ],
    }),
    nfsDirs('/st'),
  );
  const [open, lab] = text.split('EXPORT {').slice(1);
  assert.match(open, /Squash = Root_Squash;/, 'a state written before root squash existed squashes too');
  assert.match(open, /Anonymous_Uid = 65534;/);
  assert.match(open, /Access_Type = RW;/);
  assert.doesNotMatch(open, /CLIENT/);
  assert.match(lab, /Squash = No_Root_Squash;/);
  assert.match(lab, /^ {2}Access_Type = None;/m, 'nobody but the listed networks');
  assert.match(lab, /CLIENT \{\s*Clients = 10\.77\.8\.0\/24, fd77:8::\/64;\s*Access_Type = RO;\s*\}/);
});

test('renderSmbConf: a share with client networks allows those and denies the rest', () => {
  const text = renderSmbConf(
    spec({
      shares: [
        { name: 'lab', path: '/tank/lab', readOnly: false, clients: ['10.77.8.0/24'] },
        { name: 'open', path: '/tank/open', readOnly: false },
      ],
    }),
    smbDirs('/st'),
  );
  const [lab, open] = text.split(/^\[/m).slice(2);
  assert.match(lab, /hosts allow = 10\.77\.8\.0\/24\n {2}hosts deny = ALL/);
  assert.doesNotMatch(open, /hosts allow/);
});

function rejects(input: Record<string, unknown>, field: string): void {
  const good = { pool: 'tank', name: 'projects', protocol: 'smb', path: '/tank/projects', addresses: ['10.77.9.1'] };
  assert.throws(
    () => validateShareSpec({ ...good, ...input }),
    (err: unknown) => err instanceof ShareError && err.code === 'INVALID_ARGUMENT' && err.field === field,
    `${JSON.stringify(input)} should be rejected on ${field}`,
  );
}

test('validateShareSpec rejects anything that could break the config or a command line', () => {
  rejects({ pool: '; rm -rf /' }, 'pool');
  rejects({ pool: '1tank' }, 'pool');
  rejects({ pool: 'a'.repeat(65) }, 'pool');
  rejects({ pool: '../etc' }, 'pool');
  rejects({ name: '; rm -rf /' }, 'name');
  rejects({ name: 'a b' }, 'name');
  rejects({ name: 'global' }, 'name');
  rejects({ name: 'IPC$' }, 'name');
  rejects({ name: '' }, 'name');
  rejects({ protocol: 'afp' }, 'protocol');
  rejects({ path: '/tank/$(reboot)' }, 'path');
  rejects({ path: 'tank/projects' }, 'path');
  rejects({ path: '/tank/../etc' }, 'path');
  rejects({ path: '/tank/x\n[evil]' }, 'path');
  rejects({ path: '/tank/%U' }, 'path');
  rejects({ path: '/tank/a"b' }, 'path');
  rejects({ path: '/tank/a b' }, 'path');
  rejects({ path: '/tank/' }, 'path');
  rejects({ path: '/' }, 'path');
  rejects({ addresses: ['999.1.1.1'] }, 'addresses');
  rejects({ addresses: [] }, 'addresses');
  rejects({ addresses: '10.77.9.1' }, 'addresses');
  rejects({ addresses: ['10.77.9.1; reboot'] }, 'addresses');
  rejects({ addresses: ['fe80::1%eth0'] }, 'addresses');
  rejects({ protocol: 'nfs', addresses: ['10.77.9.1', '10.77.9.3'] }, 'addresses');
  rejects({ readOnly: 'yes' }, 'readOnly');
  rejects({ clients: ['10.77.8.0'] }, 'clients');
  rejects({ clients: ['10.77.8.0/24; rm -rf /'] }, 'clients');
  rejects({ clients: '10.77.8.0/24' }, 'clients');
  rejects({ rootSquash: 'no' }, 'rootSquash');
});

test('validateShareSpec normalizes addresses and defaults readOnly', () => {
  const s = validateShareSpec({
    pool: 'tank.a:b_c-d',
    name: 'Projects_2',
    protocol: 'smb',
    path: '/mnt/tank/projects-2.v1',
    addresses: ['10.77.9.3', 'FD00:0:0::0001', '10.77.9.3'],
  });
  assert.deepEqual(s.addresses, ['10.77.9.3', 'fd00::1']);
  assert.equal(s.readOnly, false);
  assert.equal(s.rootSquash, true, 'root is squashed unless the share says otherwise');
  assert.deepEqual(s.clients, []);
  assert.deepEqual(validateShareSpec({ ...s, clients: ['FD77:8:0::0/64', '10.77.8.0/24', '10.77.8.0/24'] }).clients, ['10.77.8.0/24', 'fd77:8::/64']);
  assert.equal(canonicalAddress('10.1.2.3'), '10.1.2.3');
});

test('a share with users lets in only them, each as its own account; guest shares stay guest-only as nobody', () => {
  const conf = parseIni(
    renderSmbConf(
      spec({
        shares: [
          { name: 'team', path: '/tank/team', readOnly: false, users: ['alice', 'bob'] },
          { name: 'public', path: '/tank/public', readOnly: true },
        ],
      }),
      smbDirs(base),
      { passdb: '/var/lib/tandem/host-executor/smb-users/smbpasswd' },
    ),
  );
  assert.equal(conf.global['passdb backend'], 'smbpasswd:/var/lib/tandem/host-executor/smb-users/smbpasswd');
  assert.equal(conf.global['lanman auth'], 'no');
  assert.equal(conf.global['ntlm auth'], 'ntlmv2-only');
  assert.equal(conf.team['valid users'], 'alice bob');
  assert.equal(conf.team['guest ok'], 'no');
  assert.equal(conf.team['force user'], undefined, 'a user acts as itself');
  assert.equal(conf.team['guest only'], undefined);
  assert.equal(conf.public['guest ok'], 'yes');
  assert.equal(conf.public['guest only'], 'yes');
  assert.equal(conf.public['force user'], undefined);
  assert.equal(conf.public['valid users'], undefined);
});

test('without a passdb file, smbd keeps its own (no passdb backend line)', () => {
  assert.equal(parseIni(renderSmbConf(spec(), smbDirs(base))).global['passdb backend'], undefined);
});

test('smbpasswd line: no LanMan hash, the NT hash upper-case, a normal account, the time its password was set', () => {
  assert.equal(
    smbpasswdLine({ name: 'alice', uid: 20001, ntHash: '8846f7eaee8fb117ad06bdd830b7586c', passwordSetAt: '2026-12-04T00:00:00.000Z' }),
    `alice:20001:${'X'.repeat(32)}:8846F7EAEE8FB117AD06BDD830B7586C:[U          ]:LCT-${(Date.parse('2026-12-04T00:00:00Z') / 1000).toString(16).toUpperCase()}:`,
  );
  assert.throws(() => smbpasswdLine({ name: 'al:ice', uid: 20001, ntHash: '8846f7eaee8fb117ad06bdd830b7586c', passwordSetAt: '' }), /invalid user name/);
  assert.throws(() => smbpasswdLine({ name: 'alice', uid: 20001, ntHash: 'zz', passwordSetAt: '' }), /NT hash/);
  assert.throws(() => smbpasswdLine({ name: 'alice', uid: 0, ntHash: '8846f7eaee8fb117ad06bdd830b7586c', passwordSetAt: '' }), /invalid uid/);
});

test('share users are checked: names only, none for NFS', () => {
  const ok = validateShareSpec({ pool: 'tank', name: 'team', protocol: 'smb', path: '/tank/team', addresses: ['10.77.9.1'], users: ['bob', 'alice', 'bob'] });
  assert.deepEqual(ok.users, ['alice', 'bob']);
  for (const bad of [['root'], ['Alice'], ['a b'], ['x;rm'], 'alice']) {
    assert.throws(
      () => validateShareSpec({ pool: 'tank', name: 'team', protocol: 'smb', path: '/tank/team', addresses: ['10.77.9.1'], users: bad }),
      (e: unknown) => e instanceof ShareError && e.field === 'users',
      JSON.stringify(bad),
    );
  }
  assert.throws(
    () => validateShareSpec({ pool: 'tank', name: 'lab', protocol: 'nfs', path: '/tank/lab', addresses: ['10.77.9.1'], users: ['alice'] }),
    (e: unknown) => e instanceof ShareError && e.field === 'users',
  );
});
