import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { Client } from 'pg';
import { CLUSTER_BUCKET, CLUSTER_RECORD, KV_BUCKETS, STREAMS, rmSubject, type ClusterRecord, type ProblemDetails, type TokenResponse } from '@tandem/contracts';
import { certificateFingerprint, provisionKv, provisionStreams } from '@tandem/messaging';

/**
 * The real api-gateway process against this machine's NATS JetStream and a throwaway Postgres
 * database, on a free port. No resource-manager runs for it: calls that reach one answer 503.
 * A second gateway process plays the peer of cluster joins.
 */
const ROOT = resolve(__dirname, '../../../..');
const NATS_URL = process.env.TANDEM_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const PG_ADMIN = process.env.TANDEM_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const run = randomBytes(4).toString('hex');
const db = `tandem_gw_it_${run}`;
const PASSWORD = 'tandem-admin';
const SECRET = randomBytes(24).toString('hex');

let gateway: Gateway | undefined;
let base = '';
let admin: Client | undefined;
let nc: NatsConnection;

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

async function http(method: string, path: string, opts: { body?: unknown; rawBody?: string; headers?: Record<string, string>; timeoutMs?: number; base?: string } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined || opts.rawBody !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${opts.base ?? base}${path}`, {
    method,
    headers,
    body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', json, text };
}

function assertProblem(r: { status: number; type: string; json: unknown }, status: number, code: string, field?: string): ProblemDetails {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.match(r.type, /^application\/problem\+json/);
  const p = r.json as ProblemDetails;
  assert.equal(p.type, `urn:tandem:error:${code}`);
  assert.equal(p.title, code);
  assert.equal(p.status, status);
  assert.equal(typeof p.detail, 'string');
  if (field !== undefined) assert.equal(p.field, field, p.detail);
  return p;
}

const basic = (pw: string) => ({ authorization: `Basic ${Buffer.from(`admin:${pw}`).toString('base64')}` });

/** Does anything answer pool operations on this NATS (a resource-manager of someone else's run)? */
async function resourceManagerAnswers(): Promise<boolean> {
  try {
    await nc.request(rmSubject('pool.list'), new TextEncoder().encode('{}'), { timeout: 1_500 });
    return true;
  } catch {
    return false;
  }
}

/** Does anything answer cluster operations on this NATS? */
async function clusterResourceManagerAnswers(): Promise<boolean> {
  try {
    await nc.request(rmSubject('cluster.status'), new TextEncoder().encode('{}'), { timeout: 1_500 });
    return true;
  } catch {
    return false;
  }
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [resolve(ROOT, 'bin/tandem'), '--api', base, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => ok({ code, stdout, stderr }));
  });
}

interface Gateway {
  proc: ChildProcess;
  base: string;
  port: number;
  logs: () => string;
}

/** A real api-gateway process on `port`, ready. */
async function startGateway(opts: { port: number; nodeId: string; password: string; env?: Record<string, string> }): Promise<Gateway> {
  let out = '';
  const proc = spawn(process.execPath, ['-r', './tools/register.js', 'dist/apps/api-gateway/src/main.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TANDEM_NODE_ID: opts.nodeId,
      TANDEM_CLUSTER_ID: 'gateway-it',
      TANDEM_NATS_URL: NATS_URL,
      TANDEM_HEALTH_PORT: String(opts.port),
      TANDEM_STATE_DIR: `/tmp/tandem-gw-it-${run}-${opts.nodeId}`,
      TANDEM_DATABASE_URL: PG_ADMIN.replace(/\/[^/]*$/, `/${db}`),
      TANDEM_ADMIN_PASSWORD: opts.password,
      TANDEM_TOKEN_SECRET: SECRET,
      TANDEM_LOG_LEVEL: 'warn',
      NO_COLOR: '1',
      // loopback only: plain HTTP (an address off loopback is HTTPS)
      TANDEM_API_BIND: '127.0.0.1',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  const gwBase = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`api-gateway ${opts.nodeId} exited with ${proc.exitCode}:\n${out}`);
    const ok = await fetch(`${gwBase}/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`api-gateway ${opts.nodeId} not ready within 60 s:\n${out}`);
    await sleep(250);
  }
  return { proc, base: gwBase, port: opts.port, logs: () => out };
}

async function stopGateway(g: Gateway | undefined): Promise<void> {
  if (!g || g.proc.exitCode !== null) return;
  const exited = new Promise((r) => g.proc.once('exit', r));
  g.proc.kill('SIGTERM');
  if ((await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)])) === false) g.proc.kill('SIGKILL');
}

/**
 * A second real gateway, "the peer" of joins, with another admin password: the gateway under
 * test calls it on 127.0.0.2 (its TANDEM_PEER_API_PORT), an address off 127.0.0.1 where it
 * serves HTTPS only, with the certificate it made at its first start (the join pins its
 * fingerprint, PEER_FP). The peer's own TANDEM_PEER_API_PORT is a port nobody listens on, so a
 * join asked of the peer cannot reach anyone.
 */
const PEER_PASSWORD = 'peer-admin-pw';
const PEER = '127.0.0.2';
let PEER_FP = '';
let peerGateway: Gateway | undefined;
let closedPort = 0;

before(async () => {
  nc = await connect({ servers: NATS_URL, name: `gateway-it-${run}` });
  // what a node's host-executor declares at its start (no host-executor runs here): the gateway waits for them
  await provisionStreams(await nc.jetstreamManager(), STREAMS);
  await provisionKv(nc, KV_BUCKETS);
  admin = new Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${db}`);
  const [port, peerPort, closed] = [await freePort(), await freePort(), await freePort()];
  closedPort = closed;
  base = `http://127.0.0.1:${port}`;
  const [main, peer] = await Promise.all([
    // these two take many wrong passwords on purpose: their throttle is set out of the way (it has a test of its own)
    startGateway({ port, nodeId: `gw-${run}`, password: PASSWORD, env: { TANDEM_PEER_API_PORT: String(peerPort), TANDEM_LOGIN_FAILURES_PER_MINUTE: '1000' } }),
    startGateway({
      port: peerPort,
      nodeId: `peer-${run}`,
      password: PEER_PASSWORD,
      env: { TANDEM_PEER_API_PORT: String(closed), TANDEM_LOGIN_FAILURES_PER_MINUTE: '1000', TANDEM_API_BIND: `127.0.0.1,${PEER}` },
    }),
  ]);
  gateway = main;
  peerGateway = peer;
  // made at the peer's first start, under its state directory
  PEER_FP = certificateFingerprint(readFileSync(`/tmp/tandem-gw-it-${run}-peer-${run}/api-tls/peer-${run}.pem`, 'utf8'));
});

after(async () => {
  await Promise.all([stopGateway(gateway), stopGateway(peerGateway)]);
  await nc?.drain().catch(() => undefined);
  if (admin) {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
});

test('ready, with its checks', async () => {
  const r = await http('GET', '/health/ready');
  assert.equal(r.status, 200);
  assert.deepEqual((r.json as { checks: unknown }).checks, { nats: 'ok', database: 'ok' });
});

test('the OpenAPI document lists the pool paths with bodies, auth and problem responses', async () => {
  const r = await http('GET', '/api/docs-json');
  assert.equal(r.status, 200);
  const doc = r.json as {
    openapi: string;
    info: { title: string; version: string };
    paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, { content?: Record<string, unknown> }>; security?: unknown[] }>>;
    components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { scheme: string }> };
  };
  assert.match(doc.openapi, /^3\.\d+\.\d+$/);
  assert.equal(doc.info.title, 'Tandem API');
  const methods = (p: string) => Object.keys(doc.paths[p] ?? {}).sort();
  assert.deepEqual(methods('/api/v1/pools'), ['get', 'post']);
  assert.deepEqual(methods('/api/v1/pools/{pool}'), ['delete', 'get']);
  for (const a of ['move', 'detach', 'export', 'reattach']) assert.deepEqual(methods(`/api/v1/pools/{pool}/${a}`), ['post'], a);
  assert.deepEqual(methods('/api/v1/auth/token'), ['post']);
  assert.deepEqual(methods('/api/v1/events'), ['get']);
  assert.deepEqual(methods('/api/v1/activity'), ['get']);

  const attach = doc.paths['/api/v1/pools'].post;
  assert.deepEqual(attach.requestBody, { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/AttachPoolRequest' } } } });
  assert.ok(attach.responses['201'], 'attach answers 201');
  assert.deepEqual(attach.responses['400'].content, { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } });
  assert.deepEqual(attach.security, [{ bearer: [] }, { basic: [] }]);
  assert.equal(doc.paths['/api/v1/pools'].get.security, undefined, 'reads are open');
  assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
  assert.equal(doc.components.securitySchemes.basic.scheme, 'basic');

  // Every reference resolves.
  const refs = new Set(r.text.match(/#\/components\/schemas\/[A-Za-z]+/g));
  assert.ok(refs.size > 5);
  for (const ref of refs) assert.ok(doc.components.schemas[ref.split('/').pop()!], `${ref} is not defined`);

  const ui = await fetch(`${base}/api/docs`);
  assert.equal(ui.status, 200);
  assert.match(await ui.text(), /swagger/i);
});

test('token endpoint: the right password gives a 12 h token, a wrong one 401 and nothing else', async () => {
  const ok = await http('POST', '/api/v1/auth/token', { body: { password: PASSWORD } });
  assert.equal(ok.status, 200);
  const t = ok.json as TokenResponse;
  assert.match(t.token, /^tdm1\./);
  const hours = (Date.parse(t.expiresAt) - Date.now()) / 3_600_000;
  assert.ok(hours > 11.9 && hours <= 12, `${hours} h`);

  const wrong = await http('POST', '/api/v1/auth/token', { body: { password: 'tandem-admiN' } });
  const p = assertProblem(wrong, 401, 'UNAUTHORIZED');
  assert.equal(p.detail, 'wrong password');
  assertProblem(await http('POST', '/api/v1/auth/token', { body: {} }), 400, 'INVALID_ARGUMENT', 'password');
});

test('no credentials → 401, a bad body → 400 naming the field, and nothing reaches a resource-manager', async () => {
  const seen: string[] = [];
  const spy: Subscription = nc.subscribe('tandem.cluster.rm.>', { callback: (_e, m) => seen.push(m.subject) });
  await nc.flush();
  try {
    const good = { pool: 'tank', node: 'node-a', vips: ['cli0:10.77.3.50/24'] };
    assertProblem(await http('POST', '/api/v1/pools', { body: good, timeoutMs: 5_000 }), 401, 'UNAUTHORIZED');
    assertProblem(await http('DELETE', '/api/v1/pools/tank', { timeoutMs: 5_000 }), 401, 'UNAUTHORIZED');
    assertProblem(await http('POST', '/api/v1/pools/tank/move', { body: { to: 'node-b' }, headers: { authorization: 'Bearer tdm1.forged.token' }, timeoutMs: 5_000 }), 401, 'UNAUTHORIZED');
    assertProblem(await http('POST', '/api/v1/pools/tank/move', { body: { to: 'node-b' }, headers: basic('nope'), timeoutMs: 5_000 }), 401, 'UNAUTHORIZED');

    const auth = basic(PASSWORD);
    const vip = assertProblem(await http('POST', '/api/v1/pools', { body: { ...good, vips: ['cli0:999.1.1.1/24'] }, headers: auth, timeoutMs: 5_000 }), 400, 'INVALID_ARGUMENT', 'vips.0');
    assert.match(vip.detail, /999\.1\.1\.1/);
    assertProblem(await http('POST', '/api/v1/pools', { body: { ...good, pool: '; rm -rf /' }, headers: auth, timeoutMs: 5_000 }), 400, 'INVALID_ARGUMENT', 'pool');
    assertProblem(
      await http('POST', '/api/v1/pools', { body: { ...good, shares: [{ name: 'd', protocol: 'smb', path: '../../etc' }] }, headers: auth, timeoutMs: 5_000 }),
      400,
      'INVALID_ARGUMENT',
      'shares.0.path',
    );
    assertProblem(await http('POST', `/api/v1/pools/${encodeURIComponent('$(reboot)')}/move`, { body: { to: 'node-b' }, headers: auth, timeoutMs: 5_000 }), 400, 'INVALID_ARGUMENT', 'pool');
    assertProblem(await http('POST', '/api/v1/pools/tank/move', { body: { to: 'node-b', actor: 'someone' }, headers: auth, timeoutMs: 5_000 }), 400, 'INVALID_ARGUMENT', 'actor');
    const json = assertProblem(await http('POST', '/api/v1/pools/tank/move', { rawBody: '{"to":', headers: auth, timeoutMs: 5_000 }), 400, 'INVALID_ARGUMENT');
    assert.match(json.detail, /not valid JSON/);
    assertProblem(await http('GET', '/api/v1/activity?limit=0'), 400, 'INVALID_ARGUMENT', 'limit');
    assertProblem(await http('GET', '/api/v1/nowhere'), 404, 'NOT_FOUND');
    await nc.flush();
    assert.deepEqual(seen, [], 'no request was forwarded');
  } finally {
    spy.unsubscribe();
  }
});

test('with no resource-manager running, an authenticated valid call is 503 problem details', async () => {
  assert.equal(await resourceManagerAnswers(), false, 'no resource-manager may answer on the NATS this test uses');
  const token = ((await http('POST', '/api/v1/auth/token', { body: { password: PASSWORD } })).json as TokenResponse).token;
  const moved = assertProblem(await http('POST', '/api/v1/pools/tank/move', { body: { to: 'node-b' }, headers: { authorization: `Bearer ${token}` } }), 503, 'UNAVAILABLE');
  assert.match(moved.detail, /no resource-manager answers pool\.move/);
  assert.match(moved.traceId ?? '', /^[0-9a-f]{32}$/);
  assertProblem(await http('POST', '/api/v1/pools', { body: { pool: 'tank', node: 'node-a', fc: true }, headers: basic(PASSWORD) }), 503, 'UNAVAILABLE');
  assertProblem(await http('GET', '/api/v1/pools'), 503, 'UNAVAILABLE');
  assertProblem(await http('DELETE', '/api/v1/pools/tank', { headers: { authorization: `Bearer ${token}` } }), 503, 'UNAVAILABLE');
});

/** The event feed of the gateway under test: its answer, and its text read until a pattern shows. */
async function openFeed(query = '', headers: Record<string, string> = {}) {
  const ac = new AbortController();
  const res = await fetch(`${base}/api/v1/events${query}`, { signal: ac.signal, headers });
  let text = '';
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const readUntil = async (re: RegExp, ms: number) => {
    const deadline = Date.now() + ms;
    while (!re.test(text)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`not seen ${re} in:\n${text}`);
      const chunk = await Promise.race([reader.read(), sleep(left).then(() => null)]);
      if (!chunk || chunk.done) continue;
      text += decoder.decode(chunk.value, { stream: true });
    }
  };
  return { res, readUntil, text: () => text, close: () => ac.abort() };
}

/** A probe event about pool `pool`, published through JetStream: its sequence in the events stream and its envelope. */
async function publishProbe(pool: string, n: number, kind = 'pool'): Promise<{ seq: number; envelope: Record<string, unknown> }> {
  const envelope = {
    schema: 'tandem.test.probe/1',
    id: `probe-${run}-${pool}-${n}`,
    clusterId: 'gateway-it',
    at: new Date().toISOString(),
    traceparent: null,
    source: `gateway-it@${run}`,
    entity: { kind, id: pool },
    data: { probe: run, n },
  };
  const ack = await nc.jetstream().publish(`tandem.evt.${kind}.${pool}.changed`, new TextEncoder().encode(JSON.stringify(envelope)));
  return { seq: ack.seq, envelope };
}

/** The SSE messages of a feed's text: each one's id and envelope. */
function sseMessages(text: string): Array<{ id: string; data: { id: string } }> {
  return text
    .split('\n\n')
    .map((frame) => ({ id: /^id: (.*)$/m.exec(frame)?.[1], data: /^data: (.*)$/m.exec(frame)?.[1] }))
    .filter((m): m is { id: string; data: string } => m.id !== undefined && m.data !== undefined)
    .map((m) => ({ id: m.id, data: JSON.parse(m.data) as { id: string } }));
}

test('the event feed streams what is published on tandem.evt.>, each message with its sequence in the events stream as its id', async () => {
  const feed = await openFeed();
  try {
    assert.equal(feed.res.status, 200);
    assert.match(feed.res.headers.get('content-type') ?? '', /^text\/event-stream/);
    await feed.readUntil(/: tandem event feed/, 5_000);
    const probe = await publishProbe(`x-${run}`, 1);
    await feed.readUntil(new RegExp(`data: .*probe-${run}.*\\n\\n`), 10_000);
    const got = sseMessages(feed.text()).find((m) => m.data.id === probe.envelope.id);
    assert.deepEqual(got, { id: String(probe.seq), data: probe.envelope });
    // a core NATS publish is in the stream too
    const core = { ...probe.envelope, id: `probe-${run}-core` };
    nc.publish(`tandem.evt.pool.x-${run}.changed`, new TextEncoder().encode(JSON.stringify(core)));
    await feed.readUntil(new RegExp(`probe-${run}-core`), 10_000);
    const ids = sseMessages(feed.text()).map((m) => Number(m.id));
    assert.ok(
      ids.every((id, i) => i === 0 || id > ids[i - 1]),
      `ids in stream order: ${ids.join(', ')}`,
    );
  } finally {
    feed.close();
  }
});

test('the event feed resumes after Last-Event-ID, and is filtered by entity (and id)', async () => {
  const [mine, other] = [`r-${run}`, `o-${run}`];
  const first = await publishProbe(mine, 1);
  const second = await publishProbe(mine, 2);
  await publishProbe(other, 1);
  const third = await publishProbe(mine, 3);
  await publishProbe(mine, 4, 'node');

  // the events after the client's last one (it reconnects), of this pool only
  const resumed = await openFeed(`?entity=pool&id=${mine}`, { 'last-event-id': String(first.seq) });
  try {
    assert.equal(resumed.res.status, 200);
    await resumed.readUntil(new RegExp(`probe-${run}-${mine}-3`), 10_000);
    assert.match(resumed.text(), new RegExp(`^: tandem event feed \\(tandem\\.evt\\.pool\\.${mine}\\.\\*\\)$`, 'm'));
    assert.deepEqual(
      sseMessages(resumed.text()).map((m) => [m.id, m.data.id]),
      [second, third].map((p) => [String(p.seq), p.envelope.id]),
    );
    // and what comes next
    const fifth = await publishProbe(mine, 5);
    await resumed.readUntil(new RegExp(`probe-${run}-${mine}-5`), 10_000);
    assert.equal(sseMessages(resumed.text()).pop()?.id, String(fifth.seq));
  } finally {
    resumed.close();
  }

  // every pool's events, none of the nodes'
  const pools = await openFeed('?entity=pool', { 'last-event-id': String(first.seq) });
  try {
    await pools.readUntil(new RegExp(`probe-${run}-${mine}-5`), 10_000);
    const seen = sseMessages(pools.text()).map((m) => m.data.id);
    assert.ok(seen.includes(`probe-${run}-${other}-1`), seen.join(' '));
    assert.ok(!seen.includes(`probe-${run}-${mine}-4`), 'not a node event');
  } finally {
    pools.close();
  }

  /** A feed of this pool opened with `headers` gets only what is published from now on, after `first` shows. */
  const fromNow = async (headers: Record<string, string>, first: RegExp, n: number) => {
    const feed = await openFeed(`?entity=pool&id=${mine}`, headers);
    try {
      await feed.readUntil(first, 5_000);
      const next = await publishProbe(mine, n);
      await feed.readUntil(new RegExp(`probe-${run}-${mine}-${n}`), 10_000);
      assert.deepEqual(
        sseMessages(feed.text()).map((m) => m.id),
        [String(next.seq)],
      );
    } finally {
      feed.close();
    }
  };
  // without Last-Event-ID
  await fromNow({}, /: tandem event feed/, 6);
  // with an id the stream never had (it was made anew since), saying so
  await fromNow({ 'last-event-id': '999999999999' }, /: event 999999999999 is not in the stream \(its newest is \d+\): from the next one on\n/, 7);
});

test('the CLI follows the feed of one pool, one envelope a line', async () => {
  const pool = `c-${run}`;
  const child = spawn(process.execPath, [resolve(ROOT, 'bin/tandem'), '--api', base, '--json', 'events', '--entity', 'pool', '--id', pool], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  try {
    // the feed is open once the gateway has made its consumer: publish until the CLI prints
    let n = 0;
    const deadline = Date.now() + 20_000;
    while (!(stdout.includes(`probe-${run}-${pool}-`) && stdout.endsWith('\n'))) {
      assert.ok(Date.now() < deadline, `nothing printed; stdout: ${stdout}`);
      await publishProbe(`other-${run}`, n);
      await publishProbe(pool, n++);
      await sleep(250);
    }
    const lines = stdout.trimEnd().split('\n');
    for (const l of lines) assert.equal((JSON.parse(l) as { entity: { id: string } }).entity.id, pool, 'only this pool');
  } finally {
    child.kill('SIGTERM');
  }
});

test('the event feed refuses a bad filter or Last-Event-ID: 400 naming it', async () => {
  const refused = async (query: string, field: string, headers: Record<string, string> = {}) => {
    const r = await http('GET', `/api/v1/events${query}`, { headers, timeoutMs: 5_000 });
    return assertProblem(r, 400, 'INVALID_ARGUMENT', field);
  };
  await refused('?entity=disk', 'entity');
  assert.match((await refused('?id=tank', 'id')).detail, /needs entity/);
  await refused('?entity=pool&id=a.b', 'id');
  await refused('?entity=pool&id=%3E', 'id');
  await refused('?since=4', 'since');
  await refused('', 'Last-Event-ID', { 'last-event-id': 'abc' });
  await refused('', 'Last-Event-ID', { 'last-event-id': '-1' });
});

test('the activity log pages back with a cursor in the Link header and is filtered by pool, node and result; bad values are 400 naming them', async () => {
  const pg = new Client({ connectionString: PG_ADMIN.replace(/\/[^/]*$/, `/${db}`) });
  await pg.connect();
  const pool = `p${run}`;
  try {
    const rows: Array<[string, string, string]> = [
      ['pool.attach', pool, 'succeeded'],
      ['pool.move', pool, 'started'],
      ['pool.move', pool, 'failed'],
      ['node.offline', 'node-b', 'succeeded'],
      ['pool.move', pool, 'succeeded'],
    ];
    for (const [i, [action, target, result]] of rows.entries()) {
      await pg.query(`INSERT INTO activity_log (actor, action, target, result, event_id) VALUES ('operator', $1, $2, $3, $4)`, [action, target, result, `ev-${run}-${i}`]);
    }
  } finally {
    await pg.end();
  }
  const page1 = await http('GET', `/api/v1/activity?limit=2&pool=${pool}`);
  const res1 = await fetch(`${base}/api/v1/activity?limit=2&pool=${pool}`);
  assert.equal(page1.status, 200);
  assert.deepEqual(
    (page1.json as Array<{ eventId: string }>).map((e) => e.eventId),
    [`ev-${run}-4`, `ev-${run}-2`],
  );
  const link = res1.headers.get('link') ?? '';
  assert.equal(link, `</api/v1/activity?limit=2&pool=${pool}&before=ev-${run}-2>; rel="next"`);
  const page2 = await http('GET', /<([^>]*)>/.exec(link)![1]);
  assert.deepEqual(
    (page2.json as Array<{ eventId: string }>).map((e) => e.eventId),
    [`ev-${run}-1`, `ev-${run}-0`],
  );
  const res3 = await fetch(`${base}/api/v1/activity?limit=2&pool=${pool}&before=ev-${run}-0`);
  assert.deepEqual(await res3.json(), []);
  assert.equal(res3.headers.get('link'), null, 'no page before the first entry');
  const failed = await http('GET', `/api/v1/activity?pool=${pool}&result=failed`);
  assert.deepEqual(
    (failed.json as Array<{ eventId: string }>).map((e) => e.eventId),
    [`ev-${run}-2`],
  );
  const node = await http('GET', `/api/v1/activity?node=node-b&before=ev-${run}-4&limit=1`);
  assert.deepEqual(
    (node.json as Array<{ eventId: string }>).map((e) => e.eventId),
    [`ev-${run}-3`],
  );

  assertProblem(await http('GET', '/api/v1/activity?pool=%24(reboot)'), 400, 'INVALID_ARGUMENT', 'pool');
  assertProblem(await http('GET', '/api/v1/activity?node=Node_B'), 400, 'INVALID_ARGUMENT', 'node');
  assertProblem(await http('GET', '/api/v1/activity?result=done'), 400, 'INVALID_ARGUMENT', 'result');
  assertProblem(await http('GET', '/api/v1/activity?before=a%20b'), 400, 'INVALID_ARGUMENT', 'before');
  assert.match(assertProblem(await http('GET', '/api/v1/activity?before=ev-nowhere'), 400, 'INVALID_ARGUMENT', 'before').detail, /no entry ev-nowhere/);
  assertProblem(await http('GET', '/api/v1/activity?target=tank'), 400, 'INVALID_ARGUMENT', 'target');

  // the CLI: a page, and the command line of the one before on stderr
  const cliPage = await cli(['log', '--limit', '2', '--pool', pool]);
  assert.equal(cliPage.code, 0, cliPage.stderr);
  assert.equal(cliPage.stdout.trimEnd().split('\n').length, 3);
  assert.equal(cliPage.stderr, `more: tandem log --before ev-${run}-2 --limit 2 --pool ${pool}\n`);
  const cliNext = await cli(['--json', 'log', '--before', `ev-${run}-2`, '--limit', '2', '--pool', pool]);
  assert.deepEqual(
    (JSON.parse(cliNext.stdout) as Array<{ eventId: string }>).map((e) => e.eventId),
    [`ev-${run}-1`, `ev-${run}-0`],
  );
});

test('the CLI against the gateway: errors with clear messages and exit codes', async () => {
  assert.equal(await resourceManagerAnswers(), false, 'no resource-manager may answer on the NATS this test uses');
  const list = await cli(['--json', 'pool', 'list']);
  assert.equal(list.code, 1, list.stderr);
  assert.equal((JSON.parse(list.stdout) as { error: ProblemDetails }).error.status, 503);
  assert.match(list.stderr, /^tandem: no resource-manager answers pool\.list/m);
  assert.match(list.stderr, /^hint: /m);

  const human = await cli(['pool', 'move', 'tank', '--to', 'node-b'], { TANDEM_PASSWORD: PASSWORD });
  assert.equal(human.code, 1);
  assert.match(human.stderr, /^moving tank to node-b …$/m, 'a progress line on stderr (printed once: not a terminal)');
  assert.equal(human.stdout, '', 'no result');
  assert.match(human.stderr, /^tandem: no resource-manager answers pool\.move/m);

  const vip = await cli(['pool', 'attach', 'tank', '--node', 'node-a', '--vip', 'cli0:999.1.1.1/24'], { TANDEM_PASSWORD: PASSWORD });
  assert.equal(vip.code, 2, vip.stderr);
  assert.match(vip.stderr, /^tandem: --vip "cli0:999\.1\.1\.1\/24": .*\(field: vips\.0\)$/m);

  const unconfirmed = await cli(['pool', 'remove', 'tank'], { TANDEM_PASSWORD: PASSWORD });
  assert.equal(unconfirmed.code, 2, 'no terminal to confirm at');
  assert.match(unconfirmed.stderr, /^hint: add --yes to confirm: tandem pool remove tank --yes$/m);

  const wrong = await cli(['pool', 'remove', 'tank', '--yes'], { TANDEM_PASSWORD: 'not-the-password' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /^tandem: wrong password$/m);
  assert.match(wrong.stderr, /^hint: check the password/m);

  const usage = await cli(['pool', 'move', 'tank']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /required option '--to <node>'/);

  const log = await cli(['--json', 'log', '--limit', '5']);
  assert.equal(log.code, 0, log.stderr);
  assert.ok(Array.isArray(JSON.parse(log.stdout)));
});

test('the OpenAPI document lists the cluster paths with bodies, auth and problem responses', async () => {
  const r = await http('GET', '/api/docs-json');
  assert.equal(r.status, 200);
  type Op = { requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, { content?: Record<string, unknown> }>; security?: unknown[]; tags?: string[] };
  const doc = r.json as { paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, unknown> } };
  const methods = (p: string) => Object.keys(doc.paths[p] ?? {}).sort();
  assert.deepEqual(methods('/api/v1/cluster'), ['get', 'post']);
  assert.deepEqual(methods('/api/v1/cluster/nodes'), ['post']);
  assert.deepEqual(methods('/api/v1/cluster/join'), ['post']);
  assert.deepEqual(methods('/api/v1/cluster/maintenance'), ['put']);
  assert.deepEqual(methods('/api/v1/nodes/{node}/offline'), ['post']);
  assert.deepEqual(methods('/api/v1/nodes/{node}/online'), ['post']);
  assert.deepEqual(methods('/api/v1/nodes/{node}'), ['delete', 'get']);

  const body = (op: Op) => op.requestBody?.content['application/json']?.schema;
  const schema = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  assert.deepEqual(body(doc.paths['/api/v1/cluster'].post), schema('CreateClusterRequest'));
  assert.deepEqual(body(doc.paths['/api/v1/cluster/nodes'].post), schema('AddNodeRequest'));
  assert.deepEqual(body(doc.paths['/api/v1/cluster/join'].post), schema('JoinClusterRequest'));
  assert.deepEqual(body(doc.paths['/api/v1/cluster/maintenance'].put), schema('MaintenanceRequest'));
  assert.ok(doc.paths['/api/v1/cluster'].post.responses['201'], 'create answers 201');
  assert.ok(doc.paths['/api/v1/nodes/{node}/offline'].post.responses['200']);
  assert.ok(doc.paths['/api/v1/cluster/join'].post.responses['502'], 'an unreachable peer is documented');
  assert.ok(doc.paths['/api/v1/cluster/join'].post.responses['401']);
  const mutating: Array<[string, string]> = [
    ['/api/v1/cluster', 'post'],
    ['/api/v1/cluster/nodes', 'post'],
    ['/api/v1/cluster/join', 'post'],
    ['/api/v1/cluster/maintenance', 'put'],
    ['/api/v1/nodes/{node}/offline', 'post'],
    ['/api/v1/nodes/{node}/online', 'post'],
    ['/api/v1/nodes/{node}', 'delete'],
  ];
  for (const [path, method] of mutating) {
    const op = doc.paths[path][method];
    assert.deepEqual(op.security, [{ bearer: [] }, { basic: [] }], `${method} ${path}`);
    assert.deepEqual(op.tags, ['cluster'], `${method} ${path}`);
    assert.deepEqual(op.responses['400']?.content, { 'application/problem+json': { schema: schema('Problem') } }, `${method} ${path}`);
  }
  assert.equal(doc.paths['/api/v1/cluster'].get.security, undefined, 'the status is open');
  assert.deepEqual(doc.paths['/api/v1/cluster'].get.responses['200'].content?.['application/json'], { schema: schema('ClusterStatus') });
  for (const name of ['ClusterStatus', 'NodeStatus', 'ClusterRecord', 'ClusterMember', 'NodeOfflineResult']) assert.ok(doc.components.schemas[name], name);
});

const CLUSTER_CALLS: Array<{ method: string; path: string; body?: unknown }> = [
  { method: 'POST', path: '/api/v1/cluster', body: { heartbeatInterface: 'hb0' } },
  { method: 'POST', path: '/api/v1/cluster/nodes', body: { node: 'node-b' } },
  { method: 'POST', path: '/api/v1/cluster/join', body: { peer: '127.0.0.2', password: PEER_PASSWORD } },
  { method: 'PUT', path: '/api/v1/cluster/maintenance', body: { on: true } },
  { method: 'POST', path: '/api/v1/nodes/node-b/offline' },
  { method: 'POST', path: '/api/v1/nodes/node-b/online' },
  { method: 'DELETE', path: '/api/v1/nodes/node-b' },
];

test('cluster: no credentials → 401, a bad value → 400 naming the field, and nothing reaches a resource-manager or a peer', async () => {
  const seen: string[] = [];
  const spy: Subscription = nc.subscribe('tandem.cluster.rm.>', { callback: (_e, m) => seen.push(m.subject) });
  await nc.flush();
  try {
    for (const c of CLUSTER_CALLS) {
      assertProblem(await http(c.method, c.path, { body: c.body, timeoutMs: 5_000 }), 401, 'UNAUTHORIZED');
      assertProblem(await http(c.method, c.path, { body: c.body, headers: basic('not-the-password'), timeoutMs: 5_000 }), 401, 'UNAUTHORIZED');
    }
    // The peer's password does not open this node's gateway.
    assertProblem(
      await http('POST', '/api/v1/cluster/join', { body: { peer: PEER, password: PEER_PASSWORD, peerFingerprint: PEER_FP }, headers: basic(PEER_PASSWORD), timeoutMs: 5_000 }),
      401,
      'UNAUTHORIZED',
    );

    const auth = basic(PASSWORD);
    const bad = async (method: string, path: string, body: unknown, field: string, re?: RegExp) => {
      const p = assertProblem(await http(method, path, { body, headers: auth, timeoutMs: 5_000 }), 400, 'INVALID_ARGUMENT', field);
      if (re) assert.match(p.detail, re);
    };
    await bad('POST', '/api/v1/cluster', { heartbeatInterface: 'hb0;reboot' }, 'heartbeatInterface', /Linux interface name/);
    await bad('POST', '/api/v1/cluster', {}, 'heartbeatInterface', /is required/);
    await bad('POST', '/api/v1/cluster', { heartbeatInterface: 'hb0', node: 'node-b' }, 'node', /this gateway's node/);
    await bad('POST', '/api/v1/cluster/nodes', { node: 'Node B' }, 'node');
    await bad('POST', '/api/v1/cluster/nodes', { node: 'node-b', actor: 'me' }, 'actor');
    await bad('POST', '/api/v1/cluster/join', { peer: '999.1.1.1', password: PEER_PASSWORD }, 'peer', /IPv4 or IPv6/);
    await bad('POST', '/api/v1/cluster/join', { peer: 'localhost', password: PEER_PASSWORD }, 'peer');
    await bad('POST', '/api/v1/cluster/join', { peer: '127.0.0.1' }, 'password', /is required/);
    await bad('PUT', '/api/v1/cluster/maintenance', { on: 'yes' }, 'on', /boolean/);
    for (const [method, path] of [
      ['POST', `/api/v1/nodes/${encodeURIComponent('$(reboot)')}/offline`],
      ['POST', '/api/v1/nodes/Node_B/online'],
      ['DELETE', '/api/v1/nodes/node-'],
    ]) {
      await bad(method, path, undefined, 'node', /^node: /);
    }
    await bad('POST', '/api/v1/nodes/node-b/offline', { node: 'node-c' }, 'node', /path/);
    await nc.flush();
    assert.deepEqual(seen, [], 'no request was forwarded');
  } finally {
    spy.unsubscribe();
  }
});

test('join: a peer that does not listen → 502 naming peer', async () => {
  // Asked of the peer gateway, whose TANDEM_PEER_API_PORT is a port nobody listens on.
  const started = Date.now();
  const p = assertProblem(
    await http('POST', '/api/v1/cluster/join', { base: peerGateway!.base, body: { peer: '127.0.0.1', password: PASSWORD }, headers: basic(PEER_PASSWORD) }),
    502,
    'UNAVAILABLE',
    'peer',
  );
  assert.equal(p.detail, `cannot reach the node at 127.0.0.1:${closedPort}: connection refused — check the address and that its api-gateway runs`);
  assert.match(p.traceId ?? '', /^[0-9a-f]{32}$/);
  assert.ok(Date.now() - started < 5_000, 'refused at once, not after the timeout');
});

test("join: a wrong password for the peer → 401 naming password; the right one reaches the peer's gateway", async () => {
  // The peer is the second gateway (another admin password); this gateway is asked with its own.
  const wrong = assertProblem(
    await http('POST', '/api/v1/cluster/join', { body: { peer: PEER, password: PASSWORD, peerFingerprint: PEER_FP }, headers: basic(PASSWORD) }),
    401,
    'UNAUTHORIZED',
    'password',
  );
  assert.equal(wrong.detail, `wrong admin password for the node at ${PEER}`);

  // The right password: a token from the peer, then POST /api/v1/cluster/nodes there, whose
  // problem details come back as they are (no resource-manager answers the peer either).
  assert.equal(await clusterResourceManagerAnswers(), false, 'no resource-manager may answer on the NATS this test uses');
  const relayed = assertProblem(await http('POST', '/api/v1/cluster/join', { body: { peer: PEER, password: PEER_PASSWORD, peerFingerprint: PEER_FP }, headers: basic(PASSWORD) }), 503, 'UNAVAILABLE');
  assert.match(relayed.detail, /^no resource-manager answers cluster\.join/);
});

test('join: over HTTPS to the certificate the peer made at its first start, pinned: unpinned 400 showing it, another 409, plain HTTP refused', async () => {
  const unpinned = assertProblem(await http('POST', '/api/v1/cluster/join', { body: { peer: PEER, password: PEER_PASSWORD }, headers: basic(PASSWORD) }), 400, 'INVALID_ARGUMENT', 'peerFingerprint');
  assert.ok(unpinned.detail.includes(`presented API certificate SHA-256 ${PEER_FP}`), unpinned.detail);
  const other = 'AB:'.repeat(31) + 'AB';
  const mismatch = assertProblem(
    await http('POST', '/api/v1/cluster/join', { body: { peer: PEER, password: PEER_PASSWORD, peerFingerprint: other }, headers: basic(PASSWORD) }),
    409,
    'HOST_KEY_REFUSED',
    'peerFingerprint',
  );
  assert.ok(mismatch.detail.includes(PEER_FP) && mismatch.detail.includes(other), mismatch.detail);
  // the peer answers plain HTTP on 127.0.0.1 only; off loopback it is HTTPS, and a plain request gets nothing
  await assert.rejects(fetch(`http://${PEER}:${peerGateway!.port}/health/live`, { signal: AbortSignal.timeout(5_000) }));
  // where the peer's port serves plain HTTP (on 127.0.0.1) the join is refused: it never speaks it, the password goes nowhere
  const plain = assertProblem(
    await http('POST', '/api/v1/cluster/join', { body: { peer: '127.0.0.1', password: PEER_PASSWORD, peerFingerprint: PEER_FP }, headers: basic(PASSWORD) }),
    502,
    'UNAVAILABLE',
    'peer',
  );
  assert.match(plain.detail, /^the node at 127\.0\.0\.1:\d+ does not speak HTTPS/);
});

test('cluster calls with no resource-manager running: 503 problem details', async () => {
  assert.equal(await clusterResourceManagerAnswers(), false, 'no resource-manager may answer on the NATS this test uses');
  const status = assertProblem(await http('GET', '/api/v1/cluster'), 503, 'UNAVAILABLE');
  assert.match(status.detail, /^no resource-manager answers cluster\.status/);
  assert.match(status.traceId ?? '', /^[0-9a-f]{32}$/);
  const auth = basic(PASSWORD);
  for (const c of CLUSTER_CALLS.filter((x) => x.path !== '/api/v1/cluster/join')) {
    const p = assertProblem(await http(c.method, c.path, { body: c.body, headers: auth }), 503, 'UNAVAILABLE');
    assert.match(p.detail, /^no resource-manager answers (cluster\.create|cluster\.join|maintenance\.set|node\.offline|node\.online|node\.remove):/, `${c.method} ${c.path}`);
  }
});

test('the CLI for the cluster: errors with clear messages and exit codes', async () => {
  assert.equal(await clusterResourceManagerAnswers(), false, 'no resource-manager may answer on the NATS this test uses');
  const status = await cli(['cluster', 'status']);
  assert.equal(status.code, 1, status.stderr);
  assert.match(status.stderr, /^tandem: no resource-manager answers cluster\.status/m);
  assert.match(status.stderr, /^hint: check that the resource-manager runs/m);

  const join = await cli(['cluster', 'join', '--peer', PEER, '--peer-fingerprint', PEER_FP, '--password', 'not-the-peer-password'], { TANDEM_PASSWORD: PASSWORD });
  assert.equal(join.code, 1, join.stderr);
  assert.match(join.stderr, /^joining gw-[0-9a-f]+ to the cluster of the node at 127\.0\.0\.2 …$/m);
  assert.match(join.stderr, /^tandem: wrong admin password for the node at 127\.0\.0\.2 \(field: password\)$/m);
  assert.match(join.stderr, /^hint: --password is the admin password of the node at --peer/m);

  const unreachable = await cli(['--api', peerGateway!.base, '--json', 'cluster', 'join', '--peer', '127.0.0.1', '--password', PASSWORD, '--local-password', PEER_PASSWORD]);
  assert.equal(unreachable.code, 1, unreachable.stderr);
  const problem = (JSON.parse(unreachable.stdout) as { error: ProblemDetails }).error;
  assert.equal(problem.status, 502);
  assert.equal(problem.field, 'peer');
  assert.match(unreachable.stderr, /^hint: check --peer/m);

  const iface = await cli(['cluster', 'create', '--heartbeat-interface', 'hb0;reboot'], { TANDEM_PASSWORD: PASSWORD });
  assert.equal(iface.code, 2);
  assert.match(iface.stderr, /^tandem: --heartbeat-interface "hb0;reboot": .*\(field: heartbeatInterface\)$/m);

  const offline = await cli(['node', 'offline', 'node-b'], { TANDEM_PASSWORD: PASSWORD });
  assert.equal(offline.code, 1, 'the status is needed first, and no resource-manager answers it');
  assert.match(offline.stderr, /^tandem: no resource-manager answers cluster\.status/m);

  const maintenance = await cli(['maintenance', 'yes'], { TANDEM_PASSWORD: PASSWORD });
  assert.equal(maintenance.code, 2);
  assert.match(maintenance.stderr, /must be on or off \(field: on\)/);
});

test('wrong passwords are throttled: past the limit a minute, 429 with Retry-After, also for the right password from that address; the event feed takes a bounded number of clients', async () => {
  const port = await freePort();
  const g = await startGateway({ port, nodeId: `throttled-${run}`, password: PASSWORD, env: { TANDEM_LOGIN_FAILURES_PER_MINUTE: '3', TANDEM_API_MAX_EVENT_STREAMS: '2' } });
  const feeds: AbortController[] = [];
  try {
    // the event feed: two clients at once, a third is told to come back later
    const feed = async () => {
      const ac = new AbortController();
      feeds.push(ac);
      return { ac, res: await fetch(`${g.base}/api/v1/events`, { signal: ac.signal }) };
    };
    const [one, two] = [await feed(), await feed()];
    assert.deepEqual([one.res.status, two.res.status], [200, 200]);
    const third = await feed();
    assert.equal(third.res.status, 429);
    assert.equal(third.res.headers.get('retry-after'), '5');
    assert.match(((await third.res.json()) as ProblemDetails).detail, /^the event feed serves at most 2 clients at once/);
    // a client that leaves frees its place
    one.ac.abort();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const next = await feed();
      if (next.res.status === 200) break;
      assert.equal(next.res.status, 429);
      assert.ok(Date.now() < deadline, 'the place of a client that left is not freed');
      await sleep(100);
    }

    const token = (password: string) => fetch(`${g.base}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password }) });
    for (let i = 0; i < 3; i++) assert.equal((await token('not-the-password')).status, 401);
    for (const password of ['not-the-password', PASSWORD]) {
      const r = await token(password);
      assert.equal(r.status, 429);
      const retryAfter = Number(r.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${r.headers.get('retry-after')}`);
      const p = (await r.json()) as ProblemDetails;
      assert.equal(p.title, 'TOO_MANY_REQUESTS');
      assert.match(p.detail, /^too many wrong passwords from 127\.0\.0\.1: try again in \d+ s$/);
    }
  } finally {
    for (const ac of feeds) ac.abort();
    await stopGateway(g);
  }
});

test('secrets from files; reads behind a login when the gateway is set so; a revoked token is refused by every gateway, a new one works', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-gw-secrets-'));
  writeFileSync(join(dir, 'password'), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'token-secret'), SECRET, { mode: 0o600 });
  const port = await freePort();
  const g = await startGateway({
    port,
    nodeId: `closed-${run}`,
    password: '',
    env: { TANDEM_TOKEN_SECRET: '', TANDEM_ADMIN_PASSWORD_FILE: join(dir, 'password'), TANDEM_TOKEN_SECRET_FILE: join(dir, 'token-secret'), TANDEM_API_READS: 'authenticated' },
  });
  const kv = (await provisionKv(nc, [CLUSTER_BUCKET])).get(CLUSTER_BUCKET.bucket)!;
  const key = CLUSTER_RECORD.key('cluster');
  const before = await kv.get(key);
  try {
    // reads: 401 without credentials, answered with them (503: no resource-manager runs here); health stays open
    const open = await http('GET', '/api/v1/pools', { base: g.base });
    assertProblem(open, 401, 'UNAUTHORIZED');
    const t1 = ((await http('POST', '/api/v1/auth/token', { base: g.base, body: { password: PASSWORD } })).json as TokenResponse).token;
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    assert.equal((await http('GET', '/api/v1/pools', { base: g.base, headers: bearer(t1) })).status, 503);
    assert.equal((await http('GET', '/health/ready', { base: g.base })).status, 200);
    // the token works on the other gateway too (same secret, read from the environment there)
    assert.notEqual((await http('PUT', '/api/v1/cluster/maintenance', { body: { on: true }, headers: bearer(t1) })).status, 401);

    // the active resource-manager's revocation, as it writes it: into the cluster record
    const record: ClusterRecord = { id: 'gateway-it', heartbeatInterface: 'hb0', maintenance: false, nodes: [], createdAt: new Date().toISOString(), tokensRevokedBefore: new Date().toISOString() };
    await kv.put(key, JSON.stringify(record));
    for (const b of [g.base, base]) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const r = await http('PUT', '/api/v1/cluster/maintenance', { base: b, body: { on: true }, headers: bearer(t1) });
        if (r.status === 401) {
          assert.match(assertProblem(r, 401, 'UNAUTHORIZED').detail, /^the token was revoked \(every token issued until .* was\): get a new one from POST \/api\/v1\/auth\/token$/);
          break;
        }
        assert.ok(Date.now() < deadline, `${b} still takes the revoked token: ${r.status}`);
        await sleep(100);
      }
    }
    // a login after the revocation gets a token both accept
    const t2 = ((await http('POST', '/api/v1/auth/token', { base: g.base, body: { password: PASSWORD } })).json as TokenResponse).token;
    assert.equal((await http('GET', '/api/v1/pools', { base: g.base, headers: bearer(t2) })).status, 503);
    assert.notEqual((await http('PUT', '/api/v1/cluster/maintenance', { body: { on: true }, headers: bearer(t2) })).status, 401);
  } finally {
    if (before && before.operation === 'PUT') await kv.put(key, before.value);
    else await kv.delete(key);
    await stopGateway(g);
    rmSync(dir, { recursive: true, force: true });
  }
});
