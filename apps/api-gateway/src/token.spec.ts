import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { passwordMatches, signToken, verifyToken } from './token';

const SECRET = 'a-cluster-secret-of-32-characters';
const HOUR = 3_600_000;

test('a token verifies with the secret that signed it, until it expires', () => {
  const now = Date.UTC(2026, 0, 1, 12);
  const t = signToken(SECRET, 'admin', 12 * HOUR, now);
  assert.match(t.token, /^tdm1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.equal(t.expiresAt.toISOString(), '2026-01-02T00:00:00.000Z');
  const ok = verifyToken(SECRET, t.token, now + 11 * HOUR);
  assert.equal(ok.ok, true);
  assert.equal(ok.ok && ok.claims.sub, 'admin');
  const late = verifyToken(SECRET, t.token, now + 12 * HOUR);
  assert.deepEqual(late, { ok: false, reason: 'expired', expiredAt: t.expiresAt });
});

test('any node with the same secret accepts it; another secret does not', () => {
  const { token } = signToken(SECRET, 'admin', HOUR);
  assert.equal(verifyToken(String(SECRET), token).ok, true);
  assert.deepEqual(verifyToken('another-secret-of-enough-length', token), { ok: false, reason: 'bad-signature' });
});

test('tampering with the claims or the signature is detected', () => {
  const now = Date.now();
  const { token } = signToken(SECRET, 'admin', HOUR, now);
  const [v, claims, sig] = token.split('.');
  // A longer expiry with the old signature.
  const forged = Buffer.from(JSON.stringify({ sub: 'admin', iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 10 * 365 * 86_400 })).toString('base64url');
  assert.deepEqual(verifyToken(SECRET, `${v}.${forged}.${sig}`), { ok: false, reason: 'bad-signature' });
  const flipped = sig.slice(0, -2) + (sig.at(-2) === 'A' ? 'B' : 'A') + sig.at(-1);
  assert.deepEqual(verifyToken(SECRET, `${v}.${claims}.${flipped}`), { ok: false, reason: 'bad-signature' });
  assert.deepEqual(verifyToken(SECRET, `${v}.${claims}.${sig.slice(0, 10)}`), { ok: false, reason: 'bad-signature' });
  // An unsigned token in another format.
  assert.deepEqual(verifyToken(SECRET, `tdm0.${claims}.${sig}`), { ok: false, reason: 'malformed' });
});

test('garbage is malformed, never an exception', () => {
  for (const bad of ['', 'x', 'a.b', 'tdm1..', 'tdm1.a.b.c', 'tdm1.!!.??', 'tdm1.' + 'A'.repeat(5000) + '.x']) {
    const r = verifyToken(SECRET, bad);
    assert.equal(r.ok, false, bad.slice(0, 20));
  }
  // Well-signed but not claims: still refused.
  const key = createHmac('sha256', SECRET).update('tandem/api-token/v1').digest();
  const body = `tdm1.${Buffer.from('"just a string"').toString('base64url')}`;
  const sig = createHmac('sha256', key).update(body).digest('base64url');
  assert.deepEqual(verifyToken(SECRET, `${body}.${sig}`), { ok: false, reason: 'malformed' });
});

test('passwords compare exactly', () => {
  assert.equal(passwordMatches('tandem-admin', 'tandem-admin'), true);
  assert.equal(passwordMatches('tandem-admin', 'tandem-admiN'), false);
  assert.equal(passwordMatches('tandem-admin', 'tandem-admin '), false);
  assert.equal(passwordMatches('tandem-admin', ''), false);
});
