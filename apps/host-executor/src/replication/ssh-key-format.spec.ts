import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findKey, fingerprint, keyBlob, parsePublicKey, publicKeyLine } from './ssh-key-format';
import { makeEd25519 } from './ssh-keys.service';

// a key and its fingerprint as `ssh-keygen -l -f` printed it (OpenSSH 9.2)
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICzyN4j4Isr+FocrB1+UVb4YnoddVYyh46bm3pSq2KA0';
const KEY_FINGERPRINT = 'SHA256:cGpkbrqCIigN2HQ7GAf899db4LRVV+BHsRLulMHg8j0';

test('fingerprints read as OpenSSH prints them: SHA256, base64 without padding', () => {
  assert.equal(fingerprint(KEY), KEY_FINGERPRINT);
  assert.equal(fingerprint(`${KEY} tandem-host@node-a`), KEY_FINGERPRINT, 'a comment is not part of the key');
  assert.equal(fingerprint(keyBlob(KEY) as Buffer), KEY_FINGERPRINT, 'the same from the key data');
  assert.equal(fingerprint('ssh-ed25519 not-a-key'), '(not an OpenSSH public key)');
});

test('public key lines: parsed, canonical, compared by key data; private keys and garbage are not public keys', () => {
  const pair = makeEd25519().pair;
  const parsed = parsePublicKey(pair.public);
  assert.ok(parsed);
  assert.match(publicKeyLine(parsed), /^ssh-ed25519 AAAA[A-Za-z0-9+/]+=*$/);
  assert.equal(parsePublicKey(pair.private), null, 'a private key is never pinned');
  assert.equal(parsePublicKey('hello'), null);
  assert.equal(parsePublicKey(''), null);
  assert.equal(parsePublicKey(`ssh-ed25519 ${'A'.repeat(20_000)}`), null);

  const blob = keyBlob(pair.public) as Buffer;
  assert.equal(findKey([KEY, `${pair.public} some comment`], blob), `${pair.public} some comment`);
  assert.equal(findKey([KEY, 'garbage'], blob), null);
  assert.equal(findKey([], blob), null);
});
