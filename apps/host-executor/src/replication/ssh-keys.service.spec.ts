import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBaseConfig } from '@tandem/config';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { utils } from 'ssh2';
import { SshKeysService, makeEd25519 } from './ssh-keys.service';

/* A node's replication keys on disk, across restarts of its host-executor and a rotation. */
function node(stateDir = mkdtempSync(join(tmpdir(), 'ssh-keys-'))) {
  const config = readBaseConfig({ TANDEM_NODE_ID: 'node-a', TANDEM_NATS_URL: 'nats://127.0.0.1:4222', TANDEM_STATE_DIR: stateDir });
  return { keys: new SshKeysService({ config }), dir: join(stateDir, 'ssh'), stateDir };
}
const mode = (path: string) => statSync(path).mode & 0o777;

test('made at first start (ed25519, files 0600 in a 0700 directory), the same after a restart', () => {
  const first = node();
  const made = first.keys.publicKeys();
  assert.match(made.hostKey, /^ssh-ed25519 AAAA\S+$/);
  assert.match(made.clientKey, /^ssh-ed25519 AAAA\S+$/);
  assert.notEqual(made.hostKey, made.clientKey);
  assert.equal(made.pending, null);
  assert.equal(mode(first.dir), 0o700);
  for (const f of ['host_ed25519', 'host_ed25519.pub', 'client_ed25519', 'client_ed25519.pub']) assert.equal(mode(join(first.dir, f)), 0o600, f);
  assert.match(readFileSync(join(first.dir, 'client_ed25519'), 'utf8'), /^-----BEGIN OPENSSH PRIVATE KEY-----/);
  assert.equal(readFileSync(join(first.dir, 'host_ed25519.pub'), 'utf8').trim(), made.hostKey);

  const again = node(first.stateDir);
  assert.deepEqual(again.keys.publicKeys(), made);
  assert.equal(again.keys.current().client.private, first.keys.current().client.private);
});

test('rotation: prepare makes pending keys (kept on disk, the current ones stay in use), commit makes them current', () => {
  const n = node();
  const before = n.keys.publicKeys();
  const commits: string[] = [];
  n.keys.onCommit((k) => commits.push(k.host.public));

  const pending = n.keys.prepare();
  assert.notEqual(pending.hostKey, before.hostKey);
  assert.notEqual(pending.clientKey, before.clientKey);
  assert.deepEqual(n.keys.prepare(), pending, 'prepared again: the same pending keys');
  assert.deepEqual(n.keys.publicKeys(), { hostKey: before.hostKey, clientKey: before.clientKey, pending });
  assert.deepEqual(node(n.stateDir).keys.publicKeys().pending, pending, 'pending keys survive a restart');
  assert.equal(mode(join(n.dir, 'pending')), 0o700);
  assert.equal(mode(join(n.dir, 'pending', 'host_ed25519')), 0o600);

  assert.deepEqual(n.keys.commit(), pending);
  assert.deepEqual(n.keys.publicKeys(), { ...pending, pending: null });
  assert.deepEqual(commits, [pending.hostKey]);
  assert.equal(existsSync(join(n.dir, 'pending')), false);
  assert.deepEqual(n.keys.commit(), pending, 'a commit again changes nothing');
  assert.deepEqual(node(n.stateDir).keys.publicKeys(), { ...pending, pending: null });
});

test('a commit cut short (the process stopped half way) is finished at the next start', () => {
  const n = node();
  const pending = n.keys.prepare();
  // as commit leaves it after moving the host key and before the client key
  writeFileSync(join(n.dir, 'pending', 'committing'), '');
  renameSync(join(n.dir, 'pending', 'host_ed25519'), join(n.dir, 'host_ed25519'));
  renameSync(join(n.dir, 'pending', 'host_ed25519.pub'), join(n.dir, 'host_ed25519.pub'));
  assert.deepEqual(node(n.stateDir).keys.publicKeys(), { ...pending, pending: null });
});

test('a key file that is not a key is said, never silently replaced; broken pending keys do not cost the current ones', () => {
  const n = node();
  const current = n.keys.publicKeys();
  mkdirSync(join(n.dir, 'pending'), { recursive: true });
  writeFileSync(join(n.dir, 'pending', 'client_ed25519'), 'garbage');
  const restarted = node(n.stateDir).keys;
  assert.deepEqual(restarted.publicKeys(), current);
  assert.notDeepEqual(restarted.prepare().clientKey, current.clientKey, 'prepared anew');

  writeFileSync(join(n.dir, 'client_ed25519'), 'garbage');
  const broken = node(n.stateDir).keys;
  assert.throws(
    () => broken.publicKeys(),
    (err: unknown) => err instanceof TandemError && err.code === ErrorCode.Unavailable && /client_ed25519 is not an OpenSSH private key.*move it away/.test(err.message),
  );
  assert.equal(readFileSync(join(n.dir, 'client_ed25519'), 'utf8'), 'garbage', 'left for the operator to see');
});

test('a generated key that does not read back (its public half a byte short) is made again; one that never does is an error', () => {
  // the kind of pair ssh2 sometimes makes: the public key 31 bytes long, refused by its own parser
  const short =
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMgAAAAtz\nc2gtZWQyNTUxOQAAAB9k+URpsXC70+jSBGXuvwzx3Az8oHLSl4ZQQGUxSUqfAAAA\niD+G5go/huYKAAAAC3NzaC1lZDI1NTE5AAAAH2T5RGmxcLvT6NIEZe6/DPHcDPyg\nctKXhlBAZTFJSp8AAAA/r7s6JVjioy1YhpDFUpfuj62DkK4xx92/Iv2cZ19i87lk\n+URpsXC70+jSBGXuvwzx3Az8oHLSl4ZQQGUxSUqfAAAAAAECAwQFBgc=\n-----END OPENSSH PRIVATE KEY-----\n';
  assert.ok(utils.parseKey(short) instanceof Error, 'the malformed pair is refused by the parser');
  const good = makeEd25519().pair;
  const made = [{ private: short, public: '' }, { private: short, public: '' }, good];
  let calls = 0;
  const r = makeEd25519(() => made[calls++]);
  assert.equal(calls, 3);
  assert.equal(r.pair.private, good.private);
  assert.equal(r.key.type, 'ssh-ed25519');
  assert.throws(() => makeEd25519(() => ({ private: short, public: '' }), 4), /no ed25519 key made in 4 attempts could be read back \(Malformed OpenSSH private key\)/);
});
