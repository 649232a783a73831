import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import type { NatsConnection } from 'nats';
import { HostClient } from '@tandem/messaging';
import { TESTBED_ADMIN_PASSWORD, Testbed, type TestbedStatus, observerConnection } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { runTandem, trustTestbedApis } from '../support/tandem-cli';

/**
 * The operator's workflow through the three doors — CLI, REST, events — on the testbed:
 * form the cluster, join a node (a wrong password changes nothing), add a share user, attach a
 * pool with a floating IP and an SMB share only that user gets into, move it, take its node
 * offline, read the activity log, and keep reading configuration while a node (and its Postgres)
 * is powered off.
 */
const VIP = '10.77.3.80';
const ALICE = { name: 'alice', password: 'alice-first-pw', next: 'alice-second-pw' };

describe('operator workflow: CLI, REST and events (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  let status: TestbedStatus;
  let nc: NatsConnection;
  const api = (node: string) => status.nodes.find((n) => n.name === node)!.api!;

  const tandem = (node: string, args: string[], opts: { password?: string | null } = {}) => runTandem(api(node), args, { ...opts, ca: status.ca });

  async function tandemJson<T>(node: string, args: string[]): Promise<T> {
    const r = await tandem(node, ['--json', ...args]);
    assert.equal(r.code, 0, `tandem ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as T;
  }

  async function where(pool: string): Promise<{ imported: string[]; vip: string[] }> {
    const imported: string[] = [];
    const vip: string[] = [];
    for (const n of ['node-a', 'node-b']) {
      if (status.nodes.find((x) => x.name === n)?.state === 'off') continue;
      if ((await tb.exec(n, ['zpool', 'list', '-H', '-o', 'name'])).stdout.split('\n').includes(pool)) imported.push(n);
      if ((await tb.exec(n, ['ip', '-o', 'addr', 'show', 'dev', 'cli0'])).stdout.includes(` ${VIP}/`)) vip.push(n);
    }
    return { imported, vip };
  }

  /** smbclient from the client namespace: as `user` with `password` (an authentication file, never the command line), or as a guest. */
  async function smbAs(login: { user: string; password: string } | 'guest', cmd: string) {
    const auth = ['-N'];
    if (login !== 'guest') {
      const file = `/tmp/tandem-smb-${login.user}.auth`;
      await tb.client(['sh', '-c', `umask 077; printf 'username = %s\\npassword = %s\\n' "$1" "$2" > ${file}`, 'sh', login.user, login.password]);
      auth.splice(0, 1, '-A', file);
    }
    return tb.client(['smbclient', ...auth, `//${VIP}/files`, '-c', cmd], { timeoutMs: 30_000 });
  }
  let alicePassword = ALICE.password;
  async function smb(cmd: string): Promise<string> {
    const r = await smbAs({ user: ALICE.name, password: alicePassword }, cmd);
    assert.equal(r.exitCode, 0, `smbclient as ${ALICE.name}: ${cmd}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }
  /** The owner (uid and name) of a file of the share on `node`, as that node's own accounts say. */
  async function owner(node: string, file: string): Promise<string> {
    return (await tb.exec(node, ['stat', '-c', '%u %U', join(dirname(status.jbod), 'mnt', 'tank', 'files', file)])).stdout.trim();
  }

  before(async () => {
    status = await tb.up({ nodes: 2 });
    trustTestbedApis(status);
    nc = await observerConnection(status);
    const host = new HostClient(nc);
    await host.call('node-a', 'pool.create', { pool: 'tank', vdevs: ['tank-0'], sizeMiB: 128, mountpoint: join(dirname(status.jbod), 'mnt', 'tank') });
    await host.call('node-a', 'dataset.create', { dataset: 'tank/files', mode: '1777' });
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await tb.down();
  });

  test('cluster create on node-a; a join with a wrong password changes nothing; the right one joins', async () => {
    // the resource-manager lease is taken a few seconds after start: until then nobody answers
    const r = await waitFor(
      async () => {
        const c = await tandem('node-a', ['cluster', 'create', '--heartbeat-interface', 'hb0']);
        if (c.code !== 0 && /UNAVAILABLE|no resource-manager/i.test(c.stderr + c.stdout)) throw new Error(c.stderr + c.stdout);
        return c;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'a resource-manager to answer cluster create (its lease taken)' },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal((await tandem('node-b', ['cluster', 'create', '--heartbeat-interface', 'hb0'])).code, 1, 'a second cluster is refused');

    // the join speaks HTTPS and pins the peer's API certificate: the operator reads its fingerprint on node-a (its gateway logs it)
    const logged = /API certificate SHA-256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})/.exec(readFileSync(join(status.root, 'nodes', 'node-a', 'logs', 'api-gateway.log'), 'utf8'))?.[1];
    assert.ok(logged, "node-a's api-gateway logs its certificate's fingerprint");
    const peer = status.nodes[0].addresses.heartbeat!;
    const unpinned = await tandem('node-b', ['cluster', 'join', '--peer', peer, '--password', TESTBED_ADMIN_PASSWORD]);
    assert.equal(unpinned.code, 1);
    assert.match(unpinned.stderr, new RegExp(`presented API certificate SHA-256 ${logged}`), 'the refusal shows the fingerprint presented');
    assert.match(unpinned.stderr, new RegExp(`hint: .*--peer-fingerprint ${logged}`));
    const otherPin = 'AB:'.repeat(31) + 'AB';
    const mismatch = await tandem('node-b', ['cluster', 'join', '--peer', peer, '--peer-fingerprint', otherPin, '--password', TESTBED_ADMIN_PASSWORD]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /HOST_KEY_REFUSED|not AB:AB/);
    const wrong = await tandem('node-b', ['cluster', 'join', '--peer', peer, '--peer-fingerprint', logged, '--password', 'not-the-password', '--local-password', TESTBED_ADMIN_PASSWORD]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /password/i);
    const unreachable = await tandem('node-b', ['cluster', 'join', '--peer', '10.77.1.99', '--password', TESTBED_ADMIN_PASSWORD]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach/i);
    const before = await tandemJson<{ nodes: Array<{ id: string }> }>('node-a', ['cluster', 'status']);
    assert.deepEqual(
      before.nodes.map((n) => n.id),
      ['node-a'],
      'nothing half-joined',
    );

    const ok = await tandem('node-b', ['cluster', 'join', '--peer', peer, '--peer-fingerprint', logged, '--password', TESTBED_ADMIN_PASSWORD]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    // right after a join the replicated streams may elect leaders: the status says "retry in a few seconds" until then
    const answered = (node: string, args: string[]) =>
      waitFor(
        async () => {
          const r = await tandem(node, args);
          if (r.code !== 0) throw new Error(`tandem ${args.join(' ')}: ${r.stderr}${r.stdout}`);
          return r;
        },
        { timeoutMs: 30_000, intervalMs: 500, what: `tandem ${args.join(' ')} on ${node} answered` },
      );
    const st = JSON.parse((await answered('node-b', ['--json', 'cluster', 'status'])).stdout) as {
      cluster: { heartbeatInterface: string };
      nodes: Array<{ id: string; state: string; thisNode: boolean }>;
    };
    assert.equal(st.cluster.heartbeatInterface, 'hb0');
    assert.deepEqual(
      st.nodes.map((n) => [n.id, n.state, n.thisNode]),
      [
        ['node-a', 'online', false],
        ['node-b', 'online', true],
      ],
    );
    const human = await answered('node-a', ['cluster', 'status']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /node-a/);
    assert.match(human.stdout, /node-b/);
  });

  test('changes need the password; bad input is refused with the field named', async () => {
    const noAuth = await fetch(`${api('node-a')}/api/v1/pools`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pool: 'tank', node: 'node-a', vips: [`cli0:${VIP}/24`] }),
    });
    assert.equal(noAuth.status, 401);
    const r = await tandem('node-a', ['pool', 'attach', 'tank', '--node', 'node-a', '--vip', 'cli0:999.1.1.1/24']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /vips\.0/);
    const tok = (await (
      await fetch(`${api('node-a')}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: TESTBED_ADMIN_PASSWORD }) })
    ).json()) as { token: string };
    const bad = await fetch(`${api('node-a')}/api/v1/pools`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tok.token}` },
      body: JSON.stringify({ pool: '$(reboot)', node: 'node-a', vips: [`cli0:${VIP}/24`] }),
    });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field: string }).field, 'pool');
    assert.deepEqual(await where('tank'), { imported: ['node-a'], vip: [] }, 'nothing changed');

    // tokens revoked through the CLI: the one issued by node-a is refused by both nodes' gateways
    const maintenanceOff = (node: string, token: string) =>
      fetch(`${api(node)}/api/v1/cluster/maintenance`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"on":false}' });
    assert.equal((await maintenanceOff('node-b', tok.token)).status, 200, "node-a's token works on node-b");
    const revoked = await tandem('node-a', ['auth', 'revoke-tokens']);
    assert.equal(revoked.code, 0, revoked.stderr + revoked.stdout);
    assert.match(revoked.stdout, /every API token issued until \S+ is revoked on every node/);
    for (const node of ['node-a', 'node-b']) {
      await waitFor(
        async () => {
          const res = await maintenanceOff(node, tok.token);
          if (res.status !== 401) throw new Error(`${node} answered ${res.status}`);
          assert.match(((await res.json()) as { detail: string }).detail, /^the token was revoked/);
          return true;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: `${node} refusing the revoked token` },
      );
    }
    // the password still works, and the CLI gets a new token with it
    const after = await tandem('node-b', ['maintenance', 'off']);
    assert.equal(after.code, 0, after.stderr + after.stdout);
    // recorded in the activity log (projected from the events, a moment later)
    await waitFor(
      async () => {
        const log = await tandemJson<Array<{ action: string }>>('node-a', ['log', '--limit', '20']);
        if (!log.some((e) => e.action === 'auth.revoke-tokens')) throw new Error(`the log: ${log.map((e) => e.action).join(', ')}`);
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: 'auth.revoke-tokens in the activity log' },
    );
  });

  test('a share user: added through the CLI (its password from a file), made on every node with the same uid; bad input refused', async () => {
    const pwFile = join(status.root, 'alice.pw');
    writeFileSync(pwFile, `${ALICE.password}\n`, { mode: 0o600 });
    const add = await tandem('node-a', ['share', 'user', 'add', ALICE.name, '--user-password-file', pwFile]);
    assert.equal(add.code, 0, add.stderr + add.stdout);
    assert.match(add.stdout, /added share user alice \(uid 20000 on every node\)/);
    const again = await tandem('node-b', ['share', 'user', 'add', ALICE.name, '--user-password-file', pwFile]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /share user alice exists/);
    assert.match(again.stderr, /tandem share user list/, 'the hint is about share users');
    const bad = await tandem('node-a', ['share', 'user', 'add', 'root', '--user-password-file', pwFile]);
    assert.equal(bad.code, 2, 'a system account is refused before anything is sent');
    // over REST, the same rules: a short password is refused naming the field
    const login = await fetch(`${api('node-a')}/api/v1/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: TESTBED_ADMIN_PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const short = await fetch(`${api('node-a')}/api/v1/share-users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: 'bob', password: 'short' }),
    });
    assert.equal(short.status, 400);
    assert.equal(((await short.json()) as { field: string }).field, 'password');
    const users = await tandemJson<Array<{ name: string; uid: number; shares: string[] }>>('node-b', ['share', 'user', 'list']);
    assert.deepEqual(
      users.map((u) => [u.name, u.uid, u.shares]),
      [['alice', 20000, []]],
    );
    assert.ok(!JSON.stringify(users).includes('ntHash'), 'the hash is never shown');
    for (const n of ['node-a', 'node-b'])
      await waitFor(
        async () => {
          const r = await tb.exec(n, ['getent', 'passwd', ALICE.name]);
          if (!r.stdout.startsWith('alice:x:20000:100:Tandem share user:')) throw new Error(`${n}: ${r.stdout || 'no account yet'}`);
          return true;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: `${n} making the account of alice` },
      );
  });

  test('attach, then configuration reads the same through node-b as through node-a', async () => {
    const events: string[] = [];
    const sub = nc.subscribe('tandem.evt.pool.tank.>', { callback: (_e, m) => events.push(m.subject) });
    try {
      const base = ['pool', 'attach', 'tank', '--node', 'node-a', '--vip', `cli0:${VIP}/24`, '--share', 'files:smb:files'];
      const noAccess = await tandem('node-a', base);
      assert.equal(noAccess.code, 2, 'an SMB share says who gets in');
      assert.match(noAccess.stderr, /--share-users NAME=USER/);
      const unknown = await tandem('node-a', [...base, '--share-users', 'files=mallory']);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no share user mallory/);
      const r = await tandem('node-a', [...base, '--share-users', `files=${ALICE.name}`]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual(await where('tank'), { imported: ['node-a'], vip: ['node-a'] });
      await tb.client(['sh', '-c', 'echo written-on-a > /tmp/a.txt']);
      // only alice, with her password: no guest, no wrong password
      const guest = await smbAs('guest', 'ls');
      assert.notEqual(guest.exitCode, 0, `a guest got in: ${guest.stdout}`);
      const wrong = await smbAs({ user: ALICE.name, password: 'not-her-password' }, 'ls');
      assert.notEqual(wrong.exitCode, 0, `a wrong password got in: ${wrong.stdout}`);
      await smb('put /tmp/a.txt a.txt');
      assert.equal(await owner('node-a', 'a.txt'), '20000 alice', 'what alice writes is her own');
      const a = await (await fetch(`${api('node-a')}/api/v1/pools`)).json();
      const b = await (await fetch(`${api('node-b')}/api/v1/pools`)).json();
      assert.deepEqual(b, a);
      assert.equal((a as Array<{ state: string }>)[0].state, 'serving');
      await waitFor(
        () => {
          if (!events.includes('tandem.evt.pool.tank.changed')) throw new Error(`events so far: ${events.join(', ') || 'none'}`);
          return true;
        },
        { timeoutMs: 5_000, intervalMs: 50, what: 'the event tandem.evt.pool.tank.changed' },
      );
    } finally {
      sub.unsubscribe();
    }
  });

  test('move through the CLI, then take the node offline: its pool moves first; the client keeps reading', async () => {
    const m = await tandem('node-b', ['pool', 'move', 'tank', '--to', 'node-b']);
    assert.equal(m.code, 0, m.stderr + m.stdout);
    assert.deepEqual(await where('tank'), { imported: ['node-b'], vip: ['node-b'] });
    assert.match(await smb('ls'), /a\.txt/);
    assert.equal(await owner('node-b', 'a.txt'), '20000 alice', 'the same owner on the node it moved to');
    // a new password: the old one stops, the new one works, on the node serving now
    const pwFile = join(status.root, 'alice.pw');
    writeFileSync(pwFile, `${ALICE.next}\n`, { mode: 0o600 });
    const pw = await tandem('node-a', ['share', 'user', 'passwd', ALICE.name, '--user-password-file', pwFile]);
    assert.equal(pw.code, 0, pw.stderr + pw.stdout);
    alicePassword = ALICE.next;
    await waitFor(
      async () => {
        const r = await smbAs({ user: ALICE.name, password: ALICE.next }, 'ls');
        if (r.exitCode !== 0) throw new Error(r.stdout + r.stderr);
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: 'the new password of alice working on node-b' },
    );
    assert.notEqual((await smbAs({ user: ALICE.name, password: ALICE.password }, 'ls')).exitCode, 0, 'the old password no longer works');
    const rm = await tandem('node-a', ['share', 'user', 'remove', ALICE.name]);
    assert.equal(rm.code, 1, 'a user a share lets in is not removed');
    assert.match(rm.stderr, /tank\/files/);
    const off = await tandem('node-a', ['node', 'offline', 'node-b']);
    assert.equal(off.code, 0, off.stderr + off.stdout);
    assert.deepEqual(await where('tank'), { imported: ['node-a'], vip: ['node-a'] });
    await smb('get a.txt /tmp/a-back.txt');
    assert.equal((await tb.client(['cat', '/tmp/a-back.txt'])).stdout, 'written-on-a\n');
    const list = await tandemJson<Array<{ name: string; node: string }>>('node-a', ['pool', 'list']);
    assert.deepEqual(
      list.map((p) => [p.name, p.node]),
      [['tank', 'node-a']],
    );
  });

  test('tandem log lists each step with its trace id', async () => {
    type Row = { action: string; target: string; result: string; traceId: string | null };
    const rows = await waitFor(
      async () => {
        const got = await tandemJson<Row[]>('node-b', ['log', '--limit', '100']);
        return got.some((x) => x.action === 'node.offline' && x.result === 'succeeded') ? got : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: 'node.offline succeeded in the log read through node-b' },
    );
    for (const [action, target] of [
      ['cluster.create', 'node-a'],
      ['cluster.join', 'node-b'],
      ['pool.attach', 'tank'],
      ['pool.move', 'tank'],
      ['node.offline', 'node-b'],
    ]) {
      const hit = rows.find((x) => x.action === action && x.target === target && x.result === 'succeeded');
      assert.ok(hit, `${action} ${target} in the log`);
      assert.match(hit.traceId ?? '', /^[0-9a-f]{32}$/);
    }
    const human = await tandem('node-a', ['log']);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /pool\.move/);
  });

  test('with node-b (and its Postgres) powered off, node-a still answers: configuration, log, operations', async () => {
    await tb.powerOff('node-b');
    status = await tb.status();
    // the resource-manager lease may have been on node-b: a standby takes over
    const list = await waitFor(
      async () => {
        const r = await tandem('node-a', ['--json', 'pool', 'list']);
        if (r.code !== 0) throw new Error(r.stderr + r.stdout);
        return JSON.parse(r.stdout) as Array<{ name: string; node: string; state: string }>;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'node-a to answer pool list (a resource-manager answering)' },
    );
    assert.deepEqual(
      list.map((p) => [p.name, p.node, p.state]),
      [['tank', 'node-a', 'serving']],
    );
    const log = await tandemJson<unknown[]>('node-a', ['log']);
    assert.ok(log.length >= 10);
    // what to read when an operation fails here: the warnings of node-a's resource-manager
    const rmLog = () =>
      readFileSync(join(status.root, 'nodes', 'node-a', 'logs', 'resource-manager.log'), 'utf8')
        .split('\n')
        .filter((l) => /"level":"(warn|error|fatal)"|WARN|ERROR/.test(l))
        .slice(-15)
        .join('\n');
    const ex = await tandem('node-a', ['pool', 'export', 'tank', '--yes']);
    assert.equal(ex.code, 0, `${ex.stderr}${ex.stdout}\n${rmLog()}`);
    assert.deepEqual(await where('tank'), { imported: [], vip: [] });
    const re = await tandem('node-a', ['pool', 'reattach', 'tank', '--node', 'node-a']);
    assert.equal(re.code, 0, `${re.stderr}${re.stdout}\n${rmLog()}`);
    assert.match(await smb('ls'), /a\.txt/);
  });
});
