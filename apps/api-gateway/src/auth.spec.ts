import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { AuthService } from './auth';
import { LoginThrottle, ThrottledError } from './login-throttle';
import { readGatewayConfig } from './config';
import { isRevoked, signToken, waitBeforeIssuing } from './token';

const config = { adminPassword: 'tandem-admin', tokenSecret: 'shared-by-every-node-0123' };
const auth = new AuthService(config);
const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;

async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof TandemError && e.code === ErrorCode.Unauthorized && re.test(e.message));
}

test('the token endpoint: right password gives a token every node accepts; wrong gives "wrong password" only', async () => {
  const t = await auth.issue('tandem-admin', 'test');
  assert.ok(Date.parse(t.expiresAt) > Date.now() + 11 * 3_600_000);
  const otherNode = new AuthService({ ...config });
  assert.equal(await otherNode.authenticate(`Bearer ${t.token}`, 'test'), 'admin');
  await refused(auth.issue('tandem-admiN', 'test'), /^wrong password$/);
});

test('Authorization: Bearer and Basic; everything else is refused saying what to send', async () => {
  assert.equal(await auth.authenticate(basic('admin', 'tandem-admin'), 'test'), 'admin');
  assert.equal(await auth.authenticate(`bearer ${signToken(config.tokenSecret, 'admin', 60_000).token}`, 'test'), 'admin');
  await refused(auth.authenticate(undefined, 'test'), /authentication required: send "Authorization: Bearer <token>"/);
  await refused(auth.authenticate('Digest abc', 'test'), /unsupported Authorization header/);
  await refused(auth.authenticate(basic('root', 'tandem-admin'), 'test'), /^wrong user or password$/);
  await refused(auth.authenticate(basic('admin', 'nope'), 'test'), /^wrong user or password$/);
  await refused(auth.authenticate('Basic !!!', 'test'), /wrong user or password/);
  await refused(auth.authenticate(`Bearer ${signToken('a-different-cluster-secret', 'admin', 60_000).token}`, 'test'), /token is not valid/);
  await refused(auth.authenticate(`Bearer ${signToken(config.tokenSecret, 'admin', 60_000, Date.now() - 120_000).token}`, 'test'), /token expired at/);
});

test('configuration: both variables required, the secret at least 16 characters, never echoed', () => {
  assert.deepEqual(readGatewayConfig({ TANDEM_ADMIN_PASSWORD: 'tandem-admin', TANDEM_TOKEN_SECRET: 'x'.repeat(16) }), { adminPassword: 'tandem-admin', tokenSecret: 'x'.repeat(16) });
  assert.throws(() => readGatewayConfig({ TANDEM_TOKEN_SECRET: 'x'.repeat(16) }), /configuration: TANDEM_ADMIN_PASSWORD is required/);
  assert.throws(() => readGatewayConfig({ TANDEM_ADMIN_PASSWORD: 'tandem-admin' }), /configuration: TANDEM_TOKEN_SECRET is required/);
  assert.throws(
    () => readGatewayConfig({ TANDEM_ADMIN_PASSWORD: 'tandem-admin', TANDEM_TOKEN_SECRET: 'short-secret' }),
    (e: unknown) => /TANDEM_TOKEN_SECRET is malformed: must be at least 16 characters/.test((e as Error).message) && !(e as Error).message.includes('short-secret'),
  );
});

test('configuration: TANDEM_PEER_API_PORT, the API port of the peer a join calls, is optional', () => {
  const base = { TANDEM_ADMIN_PASSWORD: 'tandem-admin', TANDEM_TOKEN_SECRET: 'x'.repeat(16) };
  assert.equal(readGatewayConfig(base).peerApiPort, undefined);
  assert.equal(readGatewayConfig({ ...base, TANDEM_PEER_API_PORT: '' }).peerApiPort, undefined);
  assert.equal(readGatewayConfig({ ...base, TANDEM_PEER_API_PORT: '18080' }).peerApiPort, 18080);
  assert.throws(() => readGatewayConfig({ ...base, TANDEM_PEER_API_PORT: '70000' }), /configuration: TANDEM_PEER_API_PORT is malformed/);
  assert.throws(() => readGatewayConfig({ ...base, TANDEM_PEER_API_PORT: 'http' }), /configuration: TANDEM_PEER_API_PORT is malformed/);
});

test('wrong passwords are throttled: the 6th from one source within a minute gets 429 with when to retry (even a right one); other sources go on; a global limit covers many sources', async () => {
  const a = new AuthService(config, new LoginThrottle({ perSource: 5, global: 8, windowS: 60 }));
  for (let i = 0; i < 5; i++) await refused(a.issue('guess', '10.0.0.9'), /^wrong password$/);
  const throttled = async (p: Promise<unknown>, re: RegExp) =>
    assert.rejects(p, (e: unknown) => e instanceof ThrottledError && e.code === ErrorCode.TooManyRequests && e.retryAfterS >= 1 && e.retryAfterS <= 60 && re.test(e.message));
  await throttled(a.issue('guess', '10.0.0.9'), /^too many wrong passwords from 10\.0\.0\.9: try again in \d+ s$/);
  await throttled(a.issue('tandem-admin', '10.0.0.9'), /too many wrong passwords from 10\.0\.0\.9/);
  await throttled(a.authenticate(basic('admin', 'tandem-admin'), '10.0.0.9'), /too many wrong passwords from 10\.0\.0\.9/);
  // another source is not held up, and a right password clears its own count
  await refused(a.issue('guess', '10.0.0.10'), /^wrong password$/);
  assert.ok((await a.issue('tandem-admin', '10.0.0.10')).token);
  // 5 + 1 failures so far; two more from a third source reach the global limit of 8: everyone waits
  await refused(a.authenticate(basic('admin', 'guess'), '10.0.0.11'), /wrong user or password/);
  await refused(a.authenticate(basic('admin', 'guess'), '10.0.0.11'), /wrong user or password/);
  await throttled(a.issue('tandem-admin', '10.0.0.12'), /^too many wrong passwords from all sources: logins are paused for \d+ s$/);
  // a token already issued still works: only password checks are throttled
  assert.equal(await a.authenticate(`Bearer ${signToken(config.tokenSecret, 'admin', 60_000).token}`, '10.0.0.9'), 'admin');
});

test('revoked tokens: one of the revocation second or before is refused saying so, a later one works; a token asked right after a revocation is issued from the next second', async () => {
  const now = Date.now();
  const revokedAt = new Date(now);
  const revocations = { revokedBefore: () => Promise.resolve(revokedAt), known: () => revokedAt };
  const a = new AuthService(config, new LoginThrottle(), revocations);
  await refused(
    a.authenticate(`Bearer ${signToken(config.tokenSecret, 'admin', 60_000, now - 5_000).token}`, 'test'),
    /^the token was revoked \(every token issued until .* was\): get a new one from POST/,
  );
  await refused(a.authenticate(`Bearer ${signToken(config.tokenSecret, 'admin', 60_000, now).token}`, 'test'), /the token was revoked/);
  assert.equal(await a.authenticate(`Bearer ${signToken(config.tokenSecret, 'admin', 60_000, now + 1_000).token}`, 'test'), 'admin');
  // a login now gets a token that the revocation does not cover
  const t = await a.issue('tandem-admin', 'test');
  assert.equal(await a.authenticate(`Bearer ${t.token}`, 'test'), 'admin');
  assert.ok(Date.now() >= (Math.floor(now / 1000) + 1) * 1000, 'issued from the second after the revocation');
  // the password itself is not revoked
  assert.equal(await a.authenticate(basic('admin', 'tandem-admin'), 'test'), 'admin');
});

test('revocation decision: by whole seconds, never letting a token of the revocation second through', () => {
  const at = new Date('2026-12-04T10:00:00.500Z');
  const claims = (iso: string) => ({ sub: 'admin', iat: Math.floor(Date.parse(iso) / 1000), exp: Math.floor(Date.parse(iso) / 1000) + 60 });
  assert.equal(isRevoked(claims('2026-12-04T09:59:59.999Z'), at), true);
  assert.equal(isRevoked(claims('2026-12-04T10:00:00.100Z'), at), true);
  assert.equal(isRevoked(claims('2026-12-04T10:00:00.900Z'), at), true, 'same second, after: revoked too (the gateway issues none such)');
  assert.equal(isRevoked(claims('2026-12-04T10:00:01.000Z'), at), false);
  assert.equal(isRevoked(claims('2026-12-04T09:00:00.000Z'), null), false);
  assert.equal(waitBeforeIssuing(at, Date.parse('2026-12-04T10:00:00.700Z')), 300);
  assert.equal(waitBeforeIssuing(at, Date.parse('2026-12-04T10:00:01.000Z')), 0);
  assert.equal(waitBeforeIssuing(null), 0);
});

test('configuration: TANDEM_API_READS is open or authenticated, nothing else', () => {
  const base = { TANDEM_ADMIN_PASSWORD: 'tandem-admin', TANDEM_TOKEN_SECRET: 'x'.repeat(16) };
  assert.equal(readGatewayConfig(base).readsNeedLogin, undefined);
  assert.equal(readGatewayConfig({ ...base, TANDEM_API_READS: 'open' }).readsNeedLogin, undefined);
  assert.equal(readGatewayConfig({ ...base, TANDEM_API_READS: 'authenticated' }).readsNeedLogin, true);
  assert.throws(() => readGatewayConfig({ ...base, TANDEM_API_READS: 'closed' }), /configuration: TANDEM_API_READS is malformed/);
});

test('configuration: TANDEM_API_BIND is a list of addresses; anything else is refused naming the variable', () => {
  const base = { TANDEM_ADMIN_PASSWORD: 'tandem-admin', TANDEM_TOKEN_SECRET: 'x'.repeat(16) };
  assert.equal(readGatewayConfig(base).bind, undefined);
  assert.deepEqual(readGatewayConfig({ ...base, TANDEM_API_BIND: '127.0.0.1, 10.77.2.11,fd00::1' }).bind, ['127.0.0.1', '10.77.2.11', 'fd00::1']);
  for (const bad of ['10.77.2.300', 'admin0', '10.0.0.1,', '0.0.0.0:8080'])
    assert.throws(() => readGatewayConfig({ ...base, TANDEM_API_BIND: bad }), /configuration: TANDEM_API_BIND is malformed/, bad);
});
