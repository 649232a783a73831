import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import { ApiPaths, ErrorCode, TandemError, type ProblemDetails, type ReplicationPoolStatus } from '@tandem/contracts';
import { ResourceManagerClient } from '@tandem/messaging';
import { SERVICE_CONTEXT } from '@tandem/service-kit';
import { ProblemFilter } from './problem';
import { KEYS_ROTATE_TIMEOUT_MS, REPLICATION_CHANGE_TIMEOUT_MS, REPLICATION_READ_TIMEOUT_MS, ReplicationController, onePool, replicationRequest, settingsQuery } from './replication.controller';

function invalid(fn: () => unknown, field: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InvalidArgument && e.field === field && (!re || re.test(e.message)), `expected INVALID_ARGUMENT on ${field}`);
}

const tank: ReplicationPoolStatus = {
  pool: 'tank',
  active: 'node-a',
  direction: 'node-a → node-b',
  state: 'in-sync',
  message: null,
  possiblyMissingS: null,
  schedule: { snapshotIntervalS: 900, retention: 24, pullIntervalS: 180, stallTimeoutS: 60 },
  rollbackWindowS: 21_600,
  passiveDownLimitS: 21_600,
  replication: null,
};

test('settings requests: the durations are forwarded as given, for the resource-manager to parse', () => {
  const body = { snapshotInterval: '15m', retention: 24, pullInterval: 180, stallTimeout: '1m', sshAddresses: { 'node-b': '10.77.1.12' } };
  assert.deepEqual(replicationRequest('replication.settings', body, { actor: 'cli:alice@h1' }), { ...body, actor: 'cli:alice@h1' });
  assert.deepEqual(replicationRequest('replication.settings', { pool: 'tank', retention: 3 }, { actor: 'x' }), { pool: 'tank', retention: 3, actor: 'x' });
  assert.deepEqual(replicationRequest('replication.settings', undefined, { actor: 'x' }), { actor: 'x' }, 'no body: the settings are shown');
  assert.deepEqual(replicationRequest('replication.resume', undefined, { pool: 'tank', actor: 'x' }), { pool: 'tank', actor: 'x' });
  assert.deepEqual(replicationRequest('replication.keys-rotate', {}, { node: 'node-b', actor: 'x' }), { node: 'node-b', actor: 'x' });
});

test('bad replication bodies are refused naming the field, before anything is sent', () => {
  invalid(() => replicationRequest('replication.settings', { snapshotInterval: '15' }, { actor: 'a' }), 'snapshotInterval', /not a duration/);
  invalid(() => replicationRequest('replication.settings', { pullInterval: '3 minutes' }, { actor: 'a' }), 'pullInterval', /not a duration/);
  invalid(() => replicationRequest('replication.settings', { stallTimeout: 0 }, { actor: 'a' }), 'stallTimeout', /from 1 to 31536000 \(365d\)/);
  invalid(() => replicationRequest('replication.settings', { snapshotInterval: '400d' }, { actor: 'a' }), 'snapshotInterval', /from 1s to 365d/);
  invalid(() => replicationRequest('replication.settings', { retention: 0 }, { actor: 'a' }), 'retention', /at least 1/);
  invalid(() => replicationRequest('replication.settings', { retention: 2.5 }, { actor: 'a' }), 'retention', /whole number/);
  invalid(() => replicationRequest('replication.settings', { sshAddresses: { 'node-b': '10.77.1' } }, { actor: 'a' }), 'sshAddresses.node-b', /IPv4 or IPv6/);
  invalid(() => replicationRequest('replication.settings', { pool: '; rm -rf /' }, { actor: 'a' }), 'pool');
  invalid(() => replicationRequest('replication.settings', { interval: '15m' }, { actor: 'a' }), 'interval', /unknown field/);
  invalid(() => replicationRequest('replication.settings', { actor: 'me' }, { actor: 'a' }), 'actor', /X-Tandem-Actor/i);
  invalid(() => replicationRequest('replication.resume', { pool: 'other' }, { pool: 'tank', actor: 'a' }), 'pool', /path/);
  invalid(() => replicationRequest('replication.keys-rotate', { force: true }, { node: 'node-b', actor: 'a' }), 'force', /unknown field/);
});

test('GET settings takes `pool` only: a change is never made by a read', () => {
  assert.deepEqual(settingsQuery({}), {});
  assert.deepEqual(settingsQuery({ pool: 'tank' }), { pool: 'tank' });
  invalid(() => settingsQuery({ retention: '3' }), 'retention', /PUT/);
  invalid(() => settingsQuery({ pool: 'mirror' }), 'pool', /reserved/);
  invalid(() => settingsQuery({ pool: ['a', 'b'] }), 'pool');
});

test('one pool of a status answer', () => {
  assert.equal(onePool([tank], 'tank'), tank);
  assert.throws(
    () => onePool([tank], 'other'),
    (e: unknown) => e instanceof TandemError && e.code === ErrorCode.PoolNotFound,
  );
});

/** The controller behind a real HTTP server, the resource-manager faked: which operation each route asks, with what. */
interface Call {
  op: string;
  payload: Record<string, unknown>;
  timeoutMs: number;
}
const calls: Call[] = [];
let answer: (op: string, payload: Record<string, unknown>) => unknown = () => ({});
let app: INestApplication;
let base = '';

@Module({})
class RoutesUnderTest {}

before(async () => {
  const rm = {
    call: async (op: string, payload: Record<string, unknown>, timeoutMs: number) => {
      calls.push({ op, payload, timeoutMs });
      return answer(op, payload);
    },
  };
  const m: DynamicModule = {
    module: RoutesUnderTest,
    controllers: [ReplicationController],
    providers: [
      { provide: SERVICE_CONTEXT, useValue: { config: { nodeId: 'node-a' } } },
      { provide: ResourceManagerClient, useValue: rm },
      { provide: APP_FILTER, useClass: ProblemFilter },
    ],
  };
  app = await NestFactory.create(m, { logger: false });
  await app.listen(0, '127.0.0.1');
  base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
});

after(async () => {
  await app?.close();
});

beforeEach(() => {
  calls.length = 0;
  answer = () => ({});
});

async function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

test('routes: /replication/settings is the settings, not a pool named "settings"; a pool’s status is the one pool', async () => {
  const settings = await http('GET', ApiPaths.replicationSettings);
  assert.equal(settings.status, 200);
  assert.deepEqual(calls, [{ op: 'replication.settings', payload: {}, timeoutMs: REPLICATION_READ_TIMEOUT_MS }]);

  calls.length = 0;
  await http('GET', `${ApiPaths.replicationSettings}?pool=tank`);
  assert.deepEqual(calls, [{ op: 'replication.settings', payload: { pool: 'tank' }, timeoutMs: REPLICATION_READ_TIMEOUT_MS }]);

  calls.length = 0;
  answer = () => [tank];
  const one = await http('GET', ApiPaths.replicationPool('tank'));
  assert.deepEqual(one, { status: 200, json: tank });
  assert.deepEqual(calls, [{ op: 'replication.status', payload: { pool: 'tank' }, timeoutMs: REPLICATION_READ_TIMEOUT_MS }]);

  calls.length = 0;
  assert.deepEqual(await http('GET', ApiPaths.replication), { status: 200, json: [tank] });
  assert.deepEqual(calls, [{ op: 'replication.status', payload: {}, timeoutMs: REPLICATION_READ_TIMEOUT_MS }]);
});

test('routes: changes carry the actor; bad values are 400 naming the field and reach nobody', async () => {
  const body = { pool: 'tank', snapshotInterval: '5m', retention: 12 };
  const put = await http('PUT', ApiPaths.replicationSettings, body, { 'x-tandem-actor': 'cli:alice@h1' });
  assert.equal(put.status, 200);
  assert.deepEqual(calls, [{ op: 'replication.settings', payload: { ...body, actor: 'cli:alice@h1' }, timeoutMs: REPLICATION_CHANGE_TIMEOUT_MS }]);

  calls.length = 0;
  await http('POST', ApiPaths.replicationResume('tank'));
  await http('POST', ApiPaths.replicationKeysRotate('node-b'), {});
  assert.deepEqual(calls, [
    { op: 'replication.resume', payload: { pool: 'tank', actor: 'api@node-a' }, timeoutMs: REPLICATION_CHANGE_TIMEOUT_MS },
    { op: 'replication.keys-rotate', payload: { node: 'node-b', actor: 'api@node-a' }, timeoutMs: KEYS_ROTATE_TIMEOUT_MS },
  ]);

  calls.length = 0;
  for (const [method, path, b, field] of [
    ['PUT', ApiPaths.replicationSettings, { snapshotInterval: '15' }, 'snapshotInterval'],
    ['PUT', ApiPaths.replicationSettings, { sshAddresses: { 'node-b': 'x' } }, 'sshAddresses.node-b'],
    ['GET', `${ApiPaths.replicationSettings}?snapshotInterval=1m`, undefined, 'snapshotInterval'],
    ['GET', ApiPaths.replicationPool('raidz'), undefined, 'pool'],
    ['POST', ApiPaths.replicationKeysRotate('Node_B'), undefined, 'node'],
  ] as const) {
    const r = await http(method, path, b);
    assert.equal(r.status, 400, `${method} ${path}`);
    assert.equal((r.json as ProblemDetails).field, field, `${method} ${path}`);
  }
  assert.deepEqual(calls, [], 'nothing reached the resource-manager');
});

test('routes: what the resource-manager answers is passed on as problem details', async () => {
  answer = () => {
    throw new TandemError(ErrorCode.InvalidArgument, 'sync for tank is not locked: nothing to resume (tandem replication status tank)', 'pool');
  };
  const r = await http('POST', ApiPaths.replicationResume('tank'), {});
  assert.equal(r.status, 400);
  assert.match((r.json as ProblemDetails).detail, /not locked/);
  answer = () => [];
  const gone = await http('GET', ApiPaths.replicationPool('tank'));
  assert.equal(gone.status, 404);
  assert.equal((gone.json as ProblemDetails).title, ErrorCode.PoolNotFound);
});
