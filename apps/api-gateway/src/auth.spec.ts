import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { AuthService } from './auth';
import { LoginThrottle, ThrottledError } from './login-throttle';
import { readGatewayConfig } from './config';
import { signToken } from './token';

const config = { adminPassword: 'tandem-admin', clusterSecret: 'shared-by-every-node-0123' };
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
  assert.equal(await auth.authenticate(`bearer ${signToken(config.clusterSecret, 'admin', 60_000).token}`, 'test'), 'admin');
  await refused(auth.authenticate(undefined, 'test'), /authentication required: send "Authorization: Bearer <token>"/);
  await refused(auth.authenticate('Digest abc', 'test'), /unsupported Authorization header/);
  await refused(auth.authenticate(basic('root', 'tandem-admin'), 'test'), /^wrong user or password$/);
  await refused(auth.authenticate(basic('admin', 'nope'), 'test'), /^wrong user or password$/);
  await refused(auth.authenticate('Basic !!!', 'test'), /wrong user or password/);
  await refused(auth.authenticate(`Bearer ${signToken('a-different-cluster-secret', 'admin', 60_000).token}`, 'test'), /token is not valid/);
  await refused(auth.authenticate(`Bearer ${signToken(config.clusterSecret, 'admin', 60_000, Date.now() - 120_000).token}`, 'test'), /token expired at/);
});

test('configuration: both variables required, the secret at least 16 characters, never echoed', () => {
  assert.deepEqual(readGatewayConfig({ TANDEM_ADMIN_PASSWORD: 'tandem-admin', TANDEM_CLUSTER_SECRET: 'x'.repeat(16) }), { adminPassword: 'tandem-admin', clusterSecret: 'x'.repeat(16) });
  assert.throws(() => readGatewayConfig({ TANDEM_CLUSTER_SECRET: 'x'.repeat(16) }), /configuration: TANDEM_ADMIN_PASSWORD is required/);
  assert.throws(() => readGatewayConfig({ TANDEM_ADMIN_PASSWORD: 'tandem-admin' }), /configuration: TANDEM_CLUSTER_SECRET is required/);
  assert.throws(
    () => readGatewayConfig({ TANDEM_ADMIN_PASSWORD: 'tandem-admin', TANDEM_CLUSTER_SECRET: 'short-secret' }),
    (e: unknown) => /TANDEM_CLUSTER_SECRET is malformed: must be at least 16 characters/.test((e as Error).message) && !(e as Error).message.includes('short-secret'),
  );
});

test('configuration: TANDEM_PEER_API_PORT, the API port of the peer a join calls, is optional', () => {
  const base = { TANDEM_ADMIN_PASSWORD: 'tandem-admin', TANDEM_CLUSTER_SECRET: 'x'.repeat(16) };
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
  assert.equal(await a.authenticate(`Bearer ${signToken(config.clusterSecret, 'admin', 60_000).token}`, '10.0.0.9'), 'admin');
});
