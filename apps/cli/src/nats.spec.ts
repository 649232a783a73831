import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from 'nats';
import { main } from './main';
import { NATS_ROUTE_SECRET_RE } from '@tandem/contracts';
import { authorizationFrom, makeNodeKeys } from './nats';

function io() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (s: string) => void (out.stdout += s) }, stderr: { write: (s: string) => void (out.stderr += s) }, env: {} } };
}

test('nats keys: five seeds of mode 0600 whose public keys are in public-keys.json; a second run keeps them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-nats-keys-'));
  try {
    const first = makeNodeKeys('node-a', dir);
    assert.equal(first.created.length, 5);
    for (const f of first.created) {
      assert.equal(statSync(f).mode & 0o777, 0o600, f);
      const seed = readFileSync(f, 'utf8').trim();
      const service = f.slice(dir.length + 1, -'.seed'.length);
      assert.equal(first.publicKeys.keys[`${service}@node-a`], nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey());
    }
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'public-keys.json'), 'utf8')), first.publicKeys);
    const again = makeNodeKeys('node-a', dir);
    assert.deepEqual([again.created.length, again.kept.length], [0, 5]);
    assert.deepEqual(again.publicKeys, first.publicKeys);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("nats authorization: every node's services by their keys, an operator and an integrator; bad files are refused naming what is wrong", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-nats-auth-'));
  try {
    const a = makeNodeKeys('node-a', join(dir, 'a')).publicKeys;
    const b = makeNodeKeys('node-b', join(dir, 'b')).publicKeys;
    const op = nkeys.createUser().getPublicKey();
    const text = authorizationFrom([join(dir, 'a', 'public-keys.json'), join(dir, 'b', 'public-keys.json')], { operator: op });
    for (const k of [...Object.values(a.keys), ...Object.values(b.keys), op]) assert.ok(text.includes(`{ nkey: ${k}`), k);
    assert.match(text, /# host-executor@node-b\n {4}\{ nkey: U\w+, permissions/);
    assert.match(text, new RegExp(`# operator\\n {4}\\{ nkey: ${op} \\}`));

    // through the CLI: the same block, and errors naming the file and what is wrong
    const c = io();
    assert.equal(await main(['nats', 'authorization', join(dir, 'a', 'public-keys.json'), join(dir, 'b', 'public-keys.json'), '--operator', op], c.io as never), 0);
    assert.equal(c.out.stdout, text);
    assert.throws(() => authorizationFrom([join(dir, 'a', 'public-keys.json'), join(dir, 'a', 'public-keys.json')]), /node node-a is given twice/);
    assert.throws(() => authorizationFrom([join(dir, 'a', 'public-keys.json')], { integrator: 'nope' }), /--integrator nope: must be an nkey user public key/);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ node: 'node-c', keys: { 'host-executor@node-c': 'Uxyz' } }));
    assert.throws(() => authorizationFrom([join(dir, 'bad.json')]), /bad\.json: not a node's public-keys\.json \(keys\.host-executor@node-c: must be an nkey user public key\)/);
    const bad = io();
    assert.equal(await main(['nats', 'authorization', join(dir, 'missing.json')], bad.io as never), 1);
    assert.match(bad.out.stderr, /missing\.json: cannot be read as JSON \(ENOENT\) \(field: public-keys\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nats certs: the CA once, a certificate per node naming loopback and its addresses, its fingerprint shown; a bad address writes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-nats-certs-'));
  try {
    const a = io();
    assert.equal(await main(['nats', 'certs', '--node', 'node-a', '--dir', dir, '--address', '10.0.2.11,10.0.1.11', '--json'], a.io), 0, a.out.stderr);
    const made = JSON.parse(a.out.stdout) as { written: string[]; fingerprint: string; names: string[]; cert: string };
    assert.equal(made.written.length, 4, 'CA and node files');
    assert.deepEqual([...made.names].sort(), ['10.0.1.11', '10.0.2.11', '127.0.0.1', 'localhost', 'node-a'].sort());
    assert.match(made.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const b = io();
    assert.equal(await main(['nats', 'certs', '--node', 'witness', '--dir', dir, '--address', '10.0.2.5'], b.io), 0, b.out.stderr);
    assert.match(b.out.stdout, /wrote [^\n]*witness\.pem/);
    assert.doesNotMatch(b.out.stdout, /wrote [^\n]*ca\.pem/, 'the CA is kept');
    const bad = io();
    const fresh = join(dir, 'fresh');
    assert.equal(await main(['nats', 'certs', '--node', 'node-b', '--dir', fresh, '--address', '10.0.2.12;reboot'], bad.io), 1);
    assert.match(bad.out.stderr, /10\.0\.2\.12;reboot.*neither an IP address nor a host name.*field: address/);
    assert.throws(() => statSync(fresh), 'nothing written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nats config: deploy/nats.conf and deploy/nats-witness.conf are what the generator the testbed runs prints (they cannot drift)', async () => {
  const root = join(__dirname, '..', '..', '..', '..');
  for (const [args, file] of [
    [['nats', 'config'], 'nats.conf'],
    [['nats', 'config', '--witness'], 'nats-witness.conf'],
  ] as const) {
    const r = io();
    assert.equal(await main([...args], r.io), 0, r.out.stderr);
    assert.equal(readFileSync(join(root, 'deploy', file), 'utf8'), r.out.stdout, `deploy/${file} differs from \`tandem ${args.join(' ')}\`: write it again with that command`);
  }
  const storage = io();
  await main(['nats', 'config'], storage.io);
  assert.doesNotMatch(storage.out.stdout, /server_tags/, 'a storage node carries no witness tag');
});

test('nats route-secret: a new secret each time, letters and digits beginning with a letter (the rule nats-server needs)', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const r = io();
    assert.equal(await main(['nats', 'route-secret'], r.io), 0, r.out.stderr);
    const secret = r.out.stdout.trim();
    assert.match(secret, NATS_ROUTE_SECRET_RE);
    seen.add(secret);
  }
  assert.equal(seen.size, 200, 'every secret is new');
  // what the rule keeps out: values nats-server reads as a number, a boolean or a short word
  for (const bad of ['0e51a2b3c4d5e6f708192a3b4c5d', '123456789012345678901234', 'true', 'r-secret-with-dashes-000000', 'rshort']) assert.doesNotMatch(bad, NATS_ROUTE_SECRET_RE, bad);
});
