import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { join } from 'node:path';
import { connect, nkeyAuthenticator, nkeys, type NatsConnection, type ConnectionOptions } from 'nats';
import type { ZodTypeAny } from 'zod';
import {
  EVENTS_STREAM,
  SHARE_USERS_BUCKET,
  ErrorCode,
  OWNERSHIP_BUCKET,
  OWNERSHIP_LEASE_RECORD,
  TandemError,
  describeZodError,
  hostOpRequests,
  hostileValues,
  operationFields,
  ownershipLeaseSchema,
  rmOpRequests,
  ApiPaths,
  type HostOperation,
  type RmOperation,
} from '@tandem/contracts';
import { HostClient, ResourceManagerClient, issueCertificate, makeCa } from '@tandem/messaging';
import { ROOT_ADMIN_IP, TESTBED_ADMIN_PASSWORD, Testbed, type TestbedStatus, INTEGRATOR_IDENTITY, observerConnection, testbedNatsOptions, testbedNatsCaFile } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { printNodeLogsOnFailure } from '../support/failure-logs';
import { trustTestbedApis } from '../support/tandem-cli';

/**
 * The control plane as an attacker on the network meets it: NATS takes no anonymous or unknown
 * client, and each service's own identity can do only what that service does. Every refusal is
 * checked against what a permitted call would have done (an answer, a write).
 */
describe('security: NATS identities and permissions (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  let status: TestbedStatus;
  let observer: NatsConnection;
  const opened: NatsConnection[] = [];
  printNodeLogsOnFailure(() => tb.root, ['node-a', 'node-b']);

  const servers = () => status.nodes.filter((n) => n.role === 'storage').map((n) => n.nats!);
  /** A connection as `identity` (a file under the testbed's nats-keys: `<service>@<node>`, `integrator`). */
  async function as(identity: string, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
    const nc = await connect({ servers: servers(), timeout: 3_000, ...testbedNatsOptions(status.root, identity), ...extra });
    opened.push(nc);
    return nc;
  }
  const refused = async (p: Promise<unknown>, what: string) => assert.rejects(p, (e: Error) => /permission|timeout|violation/i.test(`${e.message} ${(e as { code?: string }).code ?? ''}`), what);

  before(async () => {
    status = await tb.up({ nodes: 2 });
    trustTestbedApis(status);
    observer = await observerConnection(status);
  });

  after(async () => {
    for (const nc of opened) await nc.close().catch(() => undefined);
    await observer?.close().catch(() => undefined);
    await tb.down();
  });

  test('an anonymous client, and one with a key the servers do not know, are refused', async () => {
    const tls = { ca: readFileSync(testbedNatsCaFile(status.root), 'utf8') };
    for (const url of servers()) {
      await assert.rejects(connect({ servers: url, timeout: 3_000, reconnect: false, tls }), /authorization violation/i, `anonymous at ${url}`);
      const stranger = nkeyAuthenticator(nkeys.createUser().getSeed());
      await assert.rejects(connect({ servers: url, timeout: 3_000, reconnect: false, authenticator: stranger, tls }), /authorization violation/i, `unknown key at ${url}`);
    }
  });

  test("a client connection must be TLS, and the server proves itself with the cluster CA's certificate", async () => {
    for (const url of servers()) {
      const { hostname, port } = new URL(url);
      // a plain client: the server announces TLS and refuses to go on without it
      const said = await new Promise<string>((resolve, reject) => {
        let got = '';
        const sock = netConnect({ host: hostname, port: Number(port) }, () => sock.write('CONNECT {"verbose":false}\r\nPING\r\n'));
        sock.setTimeout(5_000, () => sock.destroy(new Error(`${url}: no answer`)));
        sock.on('data', (d) => (got += d.toString('latin1')));
        // the server closes a connection that does not begin TLS
        sock.on('close', () => resolve(got));
        sock.on('error', (e) => (got ? resolve(got) : reject(e)));
      });
      assert.match(said, /"tls_required":true/, `${url} announces TLS`);
      assert.doesNotMatch(said, /PONG|\+OK/, `${url} never answered the plain client: it closed the connection`);
      // a client that trusts another CA does not take the server's certificate (a server in the middle is found out the same way)
      const otherCa = await makeCa('someone else');
      await assert.rejects(
        connect({ servers: url, timeout: 3_000, reconnect: false, ...testbedNatsOptions(status.root), tls: { ca: otherCa.cert } }),
        /certificate|self.signed|verify/i,
        `${url}: a certificate the client's CA did not sign`,
      );
    }
  });

  test("a server that knows the routes' secret but shows no certificate of the cluster's CA cannot join", async () => {
    const a = status.nodes.find((n) => n.name === 'node-a')!;
    const secret = readFileSync(join(status.root, 'nats-keys', 'route-secret'), 'utf8').trim();
    const log = join(status.root, 'nodes', 'node-a', 'logs', 'nats.log');
    const dir = mkdtempSync(join(tmpdir(), 'tandem-stranger-'));
    const otherCa = await makeCa('someone else');
    const other = await issueCertificate(otherCa, 'stranger', [ROOT_ADMIN_IP]);
    writeFileSync(join(dir, 's.pem'), other.cert);
    writeFileSync(join(dir, 's.key'), other.key, { mode: 0o600 });
    // the second trusts the cluster's CA (its certificate is no secret), so only node-a's check of the stranger's certificate can stop it
    const variants = [
      { what: 'without TLS', tls: '', refusal: /TLS route handshake error|TLS Handshake Failure/ },
      {
        what: 'with a certificate of another CA',
        tls: `, tls { cert_file: "${dir}/s.pem", key_file: "${dir}/s.key", ca_file: "${testbedNatsCaFile(status.root)}", timeout: 2 }`,
        // (Go's TLS client does not even offer a certificate that the server's CA list does not name)
        refusal: /TLS route handshake error: .*(unknown authority|bad certificate|didn't provide a certificate)/,
      },
    ];
    try {
      for (const [i, v] of variants.entries()) {
        const conf = join(dir, `s${i}.conf`);
        writeFileSync(
          conf,
          [
            `server_name: "stranger${i}"`,
            `listen: "127.0.0.1:${14222 + i}"`,
            `http: "127.0.0.1:${18222 + i}"`,
            `cluster { name: "tandem", listen: "${ROOT_ADMIN_IP}:${16222 + i}", routes: ["nats://route:${secret}@${a.addresses.admin}:6222"]${v.tls} }`,
          ].join('\n'),
        );
        const from = statSync(log).size;
        const stranger = execa('nats-server', ['-c', conf], { reject: false, timeout: 60_000 });
        try {
          // node-a tells of the attempt: the handshake failed (no TLS, or a certificate it does not take)
          await waitFor(
            () =>
              readFileSync(log, 'utf8')
                .slice(from)
                .split('\n')
                .some((l) => l.includes(`${ROOT_ADMIN_IP}:`) && v.refusal.test(l)),
            { timeoutMs: 20_000, intervalMs: 200, what: `node-a refusing the stranger's route ${v.what}` },
          );
          const routez = JSON.parse(await (await fetch(`http://${a.addresses.admin}:8222/routez`)).text()) as { routes: Array<{ ip: string }> };
          assert.ok(!routez.routes.some((r) => r.ip === ROOT_ADMIN_IP), `node-a has no route from the stranger ${v.what}`);
          const own = JSON.parse(await (await fetch(`http://127.0.0.1:${18222 + i}/routez`)).text()) as { num_routes: number };
          assert.equal(own.num_routes, 0, `the stranger ${v.what} has no route`);
        } finally {
          stranger.kill('SIGKILL');
          await stranger;
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the api-gateway's identity reads node facts but cannot ask a host operation that changes anything", async () => {
    const gw = await as('api-gateway@node-a');
    const list = await gw.request('tandem.node.node-a.exec.pool.list', new TextEncoder().encode('{}'), { timeout: 5_000 });
    assert.equal((JSON.parse(new TextDecoder().decode(list.data)) as { ok: boolean }).ok, true, 'a read is answered');
    // permitted, this would be answered at once ({ok:false}: no such pool); refused, it is never delivered
    await refused(gw.request('tandem.node.node-a.exec.pool.export', new TextEncoder().encode('{"pool":"nosuch","force":true}'), { timeout: 3_000 }), 'pool.export as the gateway');
  });

  test("another node's host-executor cannot write a node's ownership lease; nobody but the owner answers its heartbeat view", async () => {
    const kvOf = async (nc: NatsConnection) => nc.jetstream({ timeout: 3_000 }).views.kv(OWNERSHIP_BUCKET.bucket, { bindOnly: true });
    const key = OWNERSHIP_LEASE_RECORD.key('node-a');
    const before = await waitFor(async () => (await kvOf(observer)).get(key), { timeoutMs: 30_000, what: "node-a's ownership lease" });
    const b = await as('host-executor@node-b');
    await refused((await kvOf(b)).put(key, JSON.stringify({ node: 'node-b', seq: Number.MAX_SAFE_INTEGER })), "node-b's host-executor writing node-a's lease");
    const now = ownershipLeaseSchema.parse((await (await kvOf(observer)).get(key))!.json());
    assert.equal(now.node, 'node-a');
    assert.ok(now.seq !== Number.MAX_SAFE_INTEGER && now.seq >= ownershipLeaseSchema.parse(before.json()).seq, 'the lease is still node-a’s own, renewed');

    // a forged health report for node-a (from any identity but node-a's heartbeat) never reaches failure detection
    const forged = await as('host-executor@node-b');
    await refused(forged.jetstream({ timeout: 3_000 }).publish('tandem.evt.node.node-a.health-changed', new TextEncoder().encode('{}')), "node-a's health told by node-b's host-executor");

    const hb = await as('heartbeat@node-b');
    const refusedSub = new Promise<Error>((resolve) => hb.subscribe('tandem.node.node-a.health.heartbeat', { callback: (err) => err && resolve(err) }));
    const err = await Promise.race([refusedSub, new Promise<null>((r) => setTimeout(() => r(null), 5_000))]);
    assert.ok(err && /permission/i.test(err.message), `node-b's heartbeat may not answer node-a's view: ${err?.message ?? 'no refusal'}`);
  });

  test('no service can purge or delete the events stream, or change its limits; an integrator reads events and can ask nothing', async () => {
    const jsm = await observer.jetstreamManager();
    const count = (await jsm.streams.info(EVENTS_STREAM.name)).state.messages;
    assert.ok(count > 0, 'events were published');
    const rm = await as('resource-manager@node-a');
    const rmJsm = await rm.jetstreamManager();
    await refused(rmJsm.streams.purge(EVENTS_STREAM.name), 'purge as the resource-manager');
    await refused(rmJsm.streams.delete(EVENTS_STREAM.name), 'delete as the resource-manager');
    assert.ok((await jsm.streams.info(EVENTS_STREAM.name)).state.messages >= count, 'nothing purged');
    // nor empty it by its limits: only host-executor declares streams and buckets (create, update)
    const before = (await jsm.streams.info(EVENTS_STREAM.name)).config;
    for (const who of ['resource-manager@node-a', 'api-gateway@node-b', 'replication-scheduler@node-a']) {
      const other = await (await as(who)).jetstreamManager();
      await refused(other.streams.update(EVENTS_STREAM.name, { ...before, max_msgs: 1 }), `limits of the events stream changed as ${who}`);
      await refused(other.streams.add({ name: `STRANGER_${who.replace(/[^a-z]/g, '')}`, subjects: ['stranger.>'] }), `a stream made as ${who}`);
    }
    const after = (await jsm.streams.info(EVENTS_STREAM.name)).config;
    assert.equal(after.max_msgs, before.max_msgs, 'the limits are as they were');
    assert.ok((await jsm.streams.info(EVENTS_STREAM.name)).state.messages >= count, 'nothing dropped');

    const integrator = await as(INTEGRATOR_IDENTITY);
    const consumer = await integrator.jetstream().consumers.get(EVENTS_STREAM.name);
    const first = await consumer.next({ expires: 5_000 });
    assert.ok(first?.subject.startsWith('tandem.evt.'), 'the integrator reads the events stream');
    await refused(integrator.request('tandem.cluster.rm.cluster.status', new TextEncoder().encode('{}'), { timeout: 3_000 }), 'a resource-manager call as the integrator');
    await refused(integrator.request('tandem.node.node-a.exec.pool.list', new TextEncoder().encode('{}'), { timeout: 3_000 }), 'a host call as the integrator');
  });

  test("the share users' NT hashes are read by the host-executors and the resource-manager, and by no other service or integrator", async () => {
    const bucket = SHARE_USERS_BUCKET.bucket;
    const record = { name: 'probe', uid: 59_999, ntHash: '8846f7eaee8fb117ad06bdd830b7586c', createdAt: new Date().toISOString(), passwordSetAt: new Date().toISOString(), by: 'security-test' };
    const kvAs = async (nc: NatsConnection) => nc.jetstream({ timeout: 3_000, checkAPI: false }).views.kv(bucket, { bindOnly: true });
    const own = await kvAs(observer);
    await own.put('user.probe', new TextEncoder().encode(JSON.stringify(record)));
    try {
      for (const who of ['host-executor@node-b', 'resource-manager@node-a']) {
        const e = await (await kvAs(await as(who))).get('user.probe');
        assert.equal(e?.json<{ ntHash: string }>().ntHash, record.ntHash, `${who} reads the share users`);
      }
      for (const who of ['api-gateway@node-a', 'heartbeat@node-b', 'replication-scheduler@node-a', INTEGRATOR_IDENTITY]) {
        await refused((async () => (await kvAs(await as(who))).get('user.probe'))(), `${who} reading a share user's hash`);
      }
    } finally {
      await own.purge('user.probe');
    }
  });

  test('the API and the health ports are not reachable from the client network, only on the admin (and heartbeat) networks', async () => {
    const tcp = (host: string) => ['bash', '-c', `exec 3<>/dev/tcp/${host}/8080`];
    for (const node of status.nodes.filter((n) => n.role === 'storage')) {
      const fromClient = await tb.client(tcp(node.addresses.client!), { timeoutMs: 10_000 });
      assert.notEqual(fromClient.exitCode, 0, `${node.name}'s API answers on the client network (${node.addresses.client})`);
      for (const addr of [node.addresses.admin!, node.addresses.heartbeat!]) {
        const inside = await tb.exec(node.name, tcp(addr), { timeoutMs: 10_000 });
        assert.equal(inside.exitCode, 0, `${node.name}'s API on ${addr}: ${inside.stderr}`);
      }
      assert.equal((await fetch(`${node.api!}/health/live`)).status, 200);
      // HTTPS only off the node: plain HTTP on the admin address gets no answer (loopback alone stays plain)
      assert.match(node.api!, /^https:/);
      await assert.rejects(fetch(`http://${node.addresses.admin!}:8080/health/live`, { signal: AbortSignal.timeout(5_000) }), `${node.name} answers plain HTTP on the admin network`);
      // the other services' health and metrics ports neither (host-executor 9101 … replication-scheduler 9104)
      for (const port of [9101, 9102, 9103, 9104]) {
        const other = await tb.client(['bash', '-c', `exec 3<>/dev/tcp/${node.addresses.client!}/${port}`], { timeoutMs: 10_000 });
        assert.notEqual(other.exitCode, 0, `${node.name}'s port ${port} answers on the client network`);
        const admin = await tb.exec(node.name, ['bash', '-c', `exec 3<>/dev/tcp/${node.addresses.admin!}/${port}`], { timeoutMs: 10_000 });
        assert.equal(admin.exitCode, 0, `${node.name}'s port ${port} on the admin network: ${admin.stderr}`);
      }
    }
  });

  test('bad input over the wire: every field of every operation of the resource-manager and of a host-executor over NATS, and of every REST body, fed hostile values, is refused INVALID_ARGUMENT / 400 as the contract says, and nothing changes on the nodes', async () => {
    /** What a command that ran could have changed on the nodes: pools, datasets, addresses, state files. */
    const state = async () => {
      const out: string[] = [];
      for (const n of ['node-a', 'node-b'])
        for (const argv of [
          ['zpool', 'list', '-H', '-o', 'name'],
          ['zfs', 'list', '-H', '-o', 'name', '-t', 'all'],
          ['ip', '-o', 'addr'],
          ['sh', '-c', 'ls /var/lib/tandem-testbed/nodes/*/state 2>/dev/null | sort'],
        ])
          out.push(`${n}: ${(await tb.exec(n, argv, { timeoutMs: 10_000 })).stdout}`);
      return out;
    };
    const before = await state();
    const host = new HostClient(observer);
    const rm = new ResourceManagerClient(observer);
    let sent = 0;
    for (const [group, ops, ask] of [
      ['host-executor', hostOpRequests, (op: string, req: Record<string, unknown>) => host.call('node-a', op as HostOperation, req as never, 5_000)],
      ['resource-manager', rmOpRequests, (op: string, req: Record<string, unknown>) => rm.call(op as RmOperation, req as never, 5_000)],
    ] as const) {
      for (const [op, schema] of Object.entries(ops as Record<string, ZodTypeAny>)) {
        for (const [field, type] of Object.entries(operationFields(schema))) {
          for (const value of hostileValues(type)) {
            const req = { [field]: value };
            const local = schema.safeParse(req);
            assert.ok(!local.success, `${group} ${op}: ${field}=${JSON.stringify(value)?.slice(0, 40)} passes its contract`);
            const expected = describeZodError(local.error).field;
            await assert.rejects(
              ask(op, req),
              (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InvalidArgument && e.field === expected,
              `${group} ${op}: ${field}=${JSON.stringify(value)?.slice(0, 40)} is not refused naming ${expected}`,
            );
            sent++;
          }
        }
      }
    }
    assert.ok(sent > 500, `only ${sent} requests sent`);

    // and through REST: every body field of the operations that take one, with a valid token
    const api = status.nodes.find((n) => n.name === 'node-a')!.api!;
    const { token } = (await (
      await fetch(`${api}${ApiPaths.token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: TESTBED_ADMIN_PASSWORD }) })
    ).json()) as { token: string };
    const routes: Array<{ method: string; path: string; op: RmOperation; set: Record<string, unknown> }> = [
      { method: 'POST', path: ApiPaths.pools, op: 'pool.attach', set: { actor: 'admin' } },
      ...(['move', 'mark-usable', 'detach', 'export', 'reattach'] as const).map((a) => ({
        method: 'POST',
        path: ApiPaths.poolAction('tank', a),
        op: `pool.${a}` as RmOperation,
        set: { pool: 'tank', actor: 'admin' },
      })),
      { method: 'PUT', path: ApiPaths.replicationSettings, op: 'replication.settings', set: { actor: 'admin' } },
    ];
    let viaRest = 0;
    for (const r of routes) {
      const schema = rmOpRequests[r.op] as ZodTypeAny;
      for (const [field, type] of Object.entries(operationFields(schema))) {
        if (field in r.set) continue;
        for (const value of hostileValues(type)) {
          const local = schema.safeParse({ [field]: value, ...r.set });
          assert.ok(!local.success);
          const res = await fetch(`${api}${r.path}`, { method: r.method, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ [field]: value }) });
          const problem = (await res.json()) as { field?: string; code?: string };
          assert.equal(res.status, 400, `${r.method} ${r.path} ${field}=${JSON.stringify(value)?.slice(0, 40)}: ${res.status} ${JSON.stringify(problem)}`);
          assert.equal(problem.field, describeZodError(local.error).field, `${r.method} ${r.path}: the field named`);
          viaRest++;
        }
      }
    }
    assert.ok(viaRest > 100, `only ${viaRest} REST requests sent`);
    assert.deepEqual(await state(), before, 'pools, datasets, addresses and state files as they were');
  });

  test("no secret sits in a service's environment or command line: only the paths of files that hold them", () => {
    const secrets = ['cluster-secret', 'token-secret', 'admin-password'].map((f) => readFileSync(join(status.root, f), 'utf8').trim());
    const seeds = readdirSync(join(status.root, 'nats-keys'))
      .filter((f) => f.endsWith('.seed'))
      .map((f) => readFileSync(join(status.root, 'nats-keys', f), 'utf8').trim());
    let checked = 0;
    for (const node of ['node-a', 'node-b']) {
      for (const app of ['host-executor', 'heartbeat', 'resource-manager', 'replication-scheduler', 'api-gateway']) {
        const pid = readFileSync(join(status.root, 'nodes', node, 'run', `${app}.pid`), 'utf8').trim();
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        for (const name of ['TANDEM_ADMIN_PASSWORD', 'TANDEM_TOKEN_SECRET', 'TANDEM_CLUSTER_SECRET', 'TANDEM_NATS_SEED'])
          assert.ok(!environ.split('\0').some((e) => e.startsWith(`${name}=`)), `${app}@${node}: ${name} in its environment`);
        for (const s of [...secrets, ...seeds]) assert.ok(!environ.includes(s) && !cmdline.includes(s), `${app}@${node}: a secret in its environment or command line`);
        checked++;
      }
    }
    assert.equal(checked, 10);
  });
});
