import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { resolve } from 'node:path';
import type { ClusterStatus, HaPool } from '@tandem/contracts';
import { createProgram } from './args';
import { ApiClient, ApiError } from './client';
import { bashCompletion, zshCompletion } from './completion';
import { followEvents, main, type Io } from './main';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** A tiny API on 127.0.0.1: what it was asked (`METHOD /path?query`), answered by `handle`. */
async function fakeApi(handle: Handler): Promise<{ base: string; asked: string[]; headers: IncomingMessage['headers'][]; close: () => void; server: Server }> {
  const asked: string[] = [];
  const headers: IncomingMessage['headers'][] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      asked.push(`${req.method} ${req.url}`);
      headers.push(req.headers);
      handle(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    asked,
    headers,
    server,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** `fn` with a tiny API answering as `handle` does, closed after. */
async function withApi(handle: Handler, fn: (api: Awaited<ReturnType<typeof fakeApi>>) => Promise<void>): Promise<void> {
  const api = await fakeApi(handle);
  try {
    await fn(api);
  } finally {
    api.close();
  }
}

/** A port nothing listens on. */
async function closedPort(): Promise<string> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  res.writeHead(status, { 'content-type': status < 400 ? 'application/json' : 'application/problem+json', ...headers }).end(JSON.stringify(body));

/** Output captured; `answers`: what is typed at the terminal, in turn (none: there is no terminal). */
function io(answers?: string[], env: Record<string, string> = { TANDEM_PASSWORD: 'pw' }) {
  const out = { stdout: '', stderr: '', asked: [] as string[] };
  const x: Io = { stdout: { write: (s: string) => void (out.stdout += s) }, stderr: { write: (s: string) => void (out.stderr += s) }, env };
  if (answers) {
    x.ask = async (prompt) => {
      out.asked.push(prompt);
      return answers.shift() ?? '';
    };
  }
  return { out, io: x };
}

const tank: HaPool = {
  name: 'tank',
  state: 'inactive',
  node: null,
  operation: null,
  reason: 'exported by cli:alice@h1',
  vips: [],
  shares: [],
  fc: true,
  epoch: 3,
  mountpoint: null,
  updatedAt: '2026-01-01T00:00:00.000Z',
};
const cluster = { id: 'tandem', heartbeatInterface: 'hb0', maintenance: false, createdAt: '2026-01-01T00:00:00.000Z', nodes: [] };

/** An API that does what it is asked: a token, a pool export or removal, a node removal, the status of a cluster of one node, taking it offline. */
const obliging: Handler = (req, res) => {
  const route = `${req.method} ${req.url}`;
  if (route === 'POST /api/v1/auth/token') return json(res, 200, { token: 'tdm1.x.y', expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
  if (route === 'POST /api/v1/pools/tank/export') return json(res, 200, tank);
  if (route === 'DELETE /api/v1/pools/tank') return json(res, 200, { pool: 'tank' });
  if (route === 'DELETE /api/v1/nodes/node-b') return json(res, 200, cluster);
  if (route === 'GET /api/v1/cluster') {
    const status: ClusterStatus = {
      cluster: { id: 'tandem', heartbeatInterface: 'hb0', maintenance: false, createdAt: cluster.createdAt },
      answeredBy: 'node-a',
      nodes: [{ id: 'node-a', state: 'online', health: 'healthy', healthDetail: null, thisNode: true, heartbeatAddress: null, heartbeatLink: 'up', pools: [] }],
    };
    return json(res, 200, status);
  }
  if (route === 'POST /api/v1/nodes/node-a/offline') return json(res, 200, { node: 'node-a', moved: [], clusterDestroyed: true, exported: [] });
  json(res, 404, { type: 'urn:tandem:error:NOT_FOUND', title: 'NOT_FOUND', status: 404, detail: `no route ${route}` });
};

test('--version is the version of the product', async () => {
  const { version } = JSON.parse(readFileSync(resolve(__dirname, '../../../../package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const c = io();
    assert.equal(await main([flag], c.io), 0);
    assert.equal(c.out.stdout, `${version}\n`);
  }
});

test('completion: the bash script knows every command and their options, from the command tree itself', async () => {
  const program = createProgram(() => undefined, { writeOut: () => undefined, writeErr: () => undefined }, {});
  const script = bashCompletion(program);
  for (const c of program.commands) assert.match(script, new RegExp(`'' *\\) echo '[^']*\\b${c.name()}\\b`), c.name());
  const attach = program.commands.find((c) => c.name() === 'pool')!.commands.find((c) => c.name() === 'attach')!;
  const attachWords = /'pool attach'\) echo '([^']*)'/.exec(script)?.[1].split(' ') ?? [];
  for (const o of attach.options) assert.ok(attachWords.includes(o.long!), `pool attach ${o.long}`);
  assert.ok(attachWords.includes('--api'), 'the global options too');

  const c = io();
  assert.equal(await main(['completion', 'bash'], c.io), 0);
  assert.equal(c.out.stdout, script);
  const z = io();
  assert.equal(await main(['completion', 'zsh'], z.io), 0);
  assert.equal(z.out.stdout, zshCompletion(program));
  assert.match(z.out.stdout, /^#compdef tandem\n/);
  assert.match(z.out.stdout, /'attach:put a pool under cluster control, served on a node'/);
  const bad = io();
  assert.equal(await main(['completion', 'fish'], bad.io), 2);
  assert.match(bad.out.stderr, /must be bash or zsh/);

  // What bash offers, completing the words given (the last one being typed).
  const complete = (...words: string[]) =>
    execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(tandem "$@"); COMP_CWORD=$#; _tandem; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', ...words], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
  assert.deepEqual(complete('po'), ['pool']);
  assert.deepEqual(complete('pool', 'at'), ['attach']);
  assert.deepEqual(complete('pool', 'attach', 'tank', '--share-c'), ['--share-clients']);
  assert.deepEqual(complete('pool', 'attach', 'tank', '--node', ''), [], 'the value of --node: nothing to offer');
  assert.deepEqual(complete('--api', 'http://x', 'log', '--result', 's'), ['started', 'succeeded']);
  assert.deepEqual(complete('events', '--entity', 'po'), ['pool']);
  assert.ok(complete('node', 'remove', 'node-b', '--').includes('--yes'));
});

const zsh = ['/bin/zsh', '/usr/bin/zsh'].find((f) => existsSync(f));
test('completion: the zsh script parses, and offers the commands with their descriptions and the choices of an option (zsh comes with scripts/install-deps)', () => {
  assert.ok(zsh, 'zsh is installed (scripts/install-deps)');
  const script = zshCompletion(createProgram(() => undefined, { writeOut: () => undefined, writeErr: () => undefined }, {}));
  // what the script hands to zsh's completion system, the system itself stood in for
  const offered = (...words: string[]) =>
    execFileSync(
      zsh!,
      [
        '-c',
        `${script}\ncompadd() { local a; for a in "$@"; do [[ $a == -- ]] || print -r -- "$a"; done }\n_describe() { print -rl -- "\${(@P)4}"; }\nwords=(tandem "$@"); CURRENT=$#words; _tandem`,
        'zsh',
        ...words,
      ],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter(Boolean);
  assert.ok(offered('pool', 'at').includes('attach:put a pool under cluster control, served on a node'));
  assert.deepEqual(offered('log', '--result', ''), ['started', 'succeeded', 'failed']);
  assert.ok(offered('pool', 'attach', 'tank', '--').includes('--share-clients'));
});

test('pool export, pool remove and node remove ask to confirm at a terminal; without one they need --yes (exit 2), and nothing is sent', async () => {
  await withApi(obliging, async (api) => {
    const cases = [
      { args: ['pool', 'export', 'tank'], question: /^export pool tank \(its shares and floating IPs stop; it stays under cluster control, inactive\)\? \[y\/N\] $/, done: /^exported tank in / },
      { args: ['pool', 'remove', 'tank'], question: /^drop pool tank from cluster control\? \[y\/N\] $/, done: /^removed tank from cluster control in / },
      { args: ['node', 'remove', 'node-b'], question: /^remove node node-b from the cluster\? \[y\/N\] $/, done: /^removed node-b from cluster tandem in / },
    ];
    for (const { args, question, done } of cases) {
      const line = args.join(' ');
      // no terminal, no --yes: a usage error saying to add it
      const refused = io();
      assert.equal(await main(['--api', api.base, ...args], refused.io), 2, line);
      assert.match(refused.out.stderr, /not confirmed, and there is no terminal to ask at; nothing done \(field: yes\)\n/, line);
      assert.match(refused.out.stderr, new RegExp(`^hint: add --yes to confirm: tandem ${line} --yes$`, 'm'), line);
      const json = io();
      assert.equal(await main(['--api', api.base, '--json', ...args], json.io), 2, line);
      assert.equal((JSON.parse(json.out.stdout) as { error: { field: string } }).error.field, 'yes');
      // asked, and not confirmed
      for (const answer of ['', 'n', 'no', 'whatever']) {
        const no = io([answer]);
        assert.equal(await main(['--api', api.base, ...args], no.io), 1, `${line}: ${answer}`);
        assert.match(no.out.asked[0], question);
        assert.equal(no.out.stderr, 'tandem: not confirmed: nothing done\n');
        assert.equal(no.out.stdout, '');
      }
      assert.deepEqual(api.asked, [], 'nothing was sent');
      // confirmed at the terminal, or with --yes (then not asked)
      for (const [answer, extra] of [
        ['y', []],
        ['YES', []],
        [undefined, ['--yes']],
      ] as const) {
        const yes = io(answer === undefined ? [] : [answer]);
        assert.equal(await main(['--api', api.base, ...args, ...extra], yes.io), 0, `${line} ${answer ?? extra.join(' ')}: ${yes.out.stderr}`);
        assert.equal(yes.out.asked.length, answer === undefined ? 0 : 1);
        assert.match(yes.out.stdout, done);
      }
      api.asked.length = 0;
    }
  });
});

test('node offline of the last online node: asked at a terminal like the others, refused without one unless --yes', async () => {
  await withApi(obliging, async (api) => {
    const refused = io();
    assert.equal(await main(['--api', api.base, 'node', 'offline', 'node-a'], refused.io), 2);
    assert.match(refused.out.stderr, /^tandem: node-a is the last online node of cluster tandem: taking it offline destroys the cluster — it serves no pools; nothing done \(field: yes\)$/m);
    assert.match(refused.out.stderr, /^hint: add --yes to confirm: tandem node offline node-a --yes$/m);
    const no = io(['n']);
    assert.equal(await main(['--api', api.base, 'node', 'offline', 'node-a'], no.io), 1);
    assert.match(no.out.asked[0], /^warning: node-a is the last online node of cluster tandem: .*\ntake node-a offline and end the cluster\? \[y\/N\] $/);
    assert.ok(!api.asked.includes('POST /api/v1/nodes/node-a/offline'));
    const yes = io(['y']);
    assert.equal(await main(['--api', api.base, 'node', 'offline', 'node-a'], yes.io), 0, yes.out.stderr);
    assert.match(yes.out.stdout, /^node-a is offline in [\d.]+ s: cluster tandem ended; no pools to export\n$/);
    const flag = io();
    assert.equal(await main(['--api', api.base, 'node', 'offline', 'node-a', '--yes'], flag.io), 0, flag.out.stderr);
    assert.match(flag.out.stderr, /^warning: node-a is the last online node/m);
  });
});

test('the progress line goes to stderr, the result to stdout', async () => {
  await withApi(obliging, async (api) => {
    const plain = io();
    assert.equal(await main(['--api', api.base, 'pool', 'export', 'tank', '--yes'], plain.io), 0);
    assert.equal(plain.out.stderr, 'exporting tank …\n', 'printed once: not a terminal');
    assert.match(plain.out.stdout, /^exported tank in [\d.]+ s: inactive, still under cluster control \(bring it back with: tandem pool reattach tank --node NODE\)\n$/);
    // on a terminal: redrawn on stderr, and wiped before the result
    const tty = io();
    tty.io.stderr.isTTY = true;
    assert.equal(await main(['--api', api.base, 'pool', 'remove', 'tank', '--yes'], tty.io), 0);
    assert.equal(tty.out.stderr, '\r\x1b[2Kremoving tank …\r\x1b[2K');
    assert.match(tty.out.stdout, /^removed tank from cluster control in [\d.]+ s\n$/);
    const json = io();
    assert.equal(await main(['--api', api.base, '--json', 'pool', 'remove', 'tank', '--yes'], json.io), 0);
    assert.equal(json.out.stderr, '');
    assert.deepEqual(JSON.parse(json.out.stdout), { pool: 'tank' });
  });
});

test('several APIs: the first that answers is used — one refusing connections or not answering in time is passed over, an HTTP error is an answer', async () => {
  const ok = await fakeApi((_req, res) => json(res, 200, { ok: true }));
  const failing = await fakeApi((_req, res) => json(res, 503, { type: 'urn:tandem:error:UNAVAILABLE', title: 'UNAVAILABLE', status: 503, detail: 'no resource-manager answers pool.list' }));
  const silent = await fakeApi(() => undefined);
  const [refused, refused2] = [await closedPort(), await closedPort()];
  try {
    const a = new ApiClient([refused, ok.base]);
    assert.deepEqual(await a.get('/api/v1/pools'), { ok: true });
    assert.equal(a.base, ok.base);
    assert.deepEqual(await new ApiClient([silent.base, ok.base], undefined, undefined, undefined, { readTimeoutMs: 300 }).get('/api/v1/pools'), { ok: true });
    assert.equal(ok.asked.length, 2);
    await assert.rejects(new ApiClient([refused, failing.base, ok.base]).get('/api/v1/pools'), (e: unknown) => e instanceof ApiError && e.problem.status === 503);
    assert.equal(ok.asked.length, 2, 'not asked after an answer');
    // the one that answered is kept to
    const kept = new ApiClient([refused, failing.base, ok.base]);
    await kept.get('/x').catch(() => undefined);
    await kept.get('/y').catch(() => undefined);
    assert.deepEqual(failing.asked, ['GET /api/v1/pools', 'GET /x', 'GET /y']);
    await assert.rejects(new ApiClient([refused, refused2]).get('/api/v1/pools'), (e: unknown) => {
      const d = (e as ApiError).problem.detail;
      return e instanceof ApiError && e.problem.status === 0 && d.startsWith('none of the 2 APIs answered: ') && d.includes(refused) && d.includes(refused2) && /ECONNREFUSED/.test(d);
    });

    // through the command line, from --api and TANDEM_API
    const viaOption = io();
    assert.equal(await main(['--api', `${refused},${ok.base}`, '--json', 'pool', 'list'], viaOption.io), 0, viaOption.out.stderr);
    assert.deepEqual(JSON.parse(viaOption.out.stdout), { ok: true });
    const viaEnv = io(undefined, { TANDEM_API: `${refused}, ${failing.base}` });
    assert.equal(await main(['pool', 'list'], viaEnv.io), 1);
    assert.match(viaEnv.out.stderr, /^tandem: no resource-manager answers pool\.list$/m);
    const none = io(undefined, { TANDEM_API: `${refused},${refused2}` });
    assert.equal(await main(['pool', 'list'], none.io), 1);
    assert.match(none.out.stderr, /^tandem: none of the 2 APIs answered: cannot reach the API at /m);
    assert.match(none.out.stderr, new RegExp(`^hint: is the api-gateway running at ${refused}, ${refused2}\\?`, 'm'));
  } finally {
    for (const s of [ok, failing, silent]) s.close();
  }
});

test('log: filters and a cursor go to the API; the cursor of the page before is printed on stderr', async () => {
  const entry = (id: string, result: string) => ({
    id,
    at: '2026-01-01T10:00:00.000Z',
    actor: 'cli:alice@h1',
    action: 'pool.move',
    target: 'tank',
    result,
    error: null,
    traceId: null,
    nodeId: 'node-a',
    eventId: `ev-${id}-0000`,
  });
  const api = await fakeApi((req, res) => {
    const more = !req.url!.includes('before=ev-5');
    json(
      res,
      200,
      more ? [entry('7', 'failed'), entry('5', 'failed')] : [entry('2', 'failed')],
      more ? { link: '</api/v1/activity?limit=2&pool=tank&result=failed&before=ev-5-0000>; rel="next"' } : {},
    );
  });
  try {
    const first = io();
    assert.equal(await main(['--api', api.base, 'log', '--limit', '2', '--pool', 'tank', '--result', 'failed'], first.io), 0);
    assert.equal(api.asked[0], 'GET /api/v1/activity?limit=2&pool=tank&result=failed');
    assert.equal(first.out.stdout.trimEnd().split('\n').length, 3, 'a header and two rows');
    assert.equal(first.out.stderr, 'more: tandem log --before ev-5-0000 --limit 2 --pool tank --result failed\n');
    const next = io();
    assert.equal(await main(['--api', api.base, '--json', 'log', '--before', 'ev-5-0000', '--limit', '2', '--pool', 'tank', '--result', 'failed'], next.io), 0);
    assert.equal(api.asked[1], 'GET /api/v1/activity?limit=2&before=ev-5-0000&pool=tank&result=failed');
    assert.deepEqual(
      (JSON.parse(next.out.stdout) as Array<{ id: string }>).map((e) => e.id),
      ['2'],
    );
    assert.equal(next.out.stderr, '', 'the last page: no cursor');
  } finally {
    api.close();
  }
});

test('events: when the feed ends it is asked again after the last event seen (Last-Event-ID), with its filter, also past a 503; given up after 5 attempts without an event', async () => {
  let connection = 0;
  const api = await fakeApi((_req, res) => {
    connection++;
    if (connection > 2) return json(res, 503, { type: 'urn:tandem:error:UNAVAILABLE', title: 'UNAVAILABLE', status: 503, detail: 'gone for good' });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const ev = (id: number) =>
      `id: ${id}\ndata: ${JSON.stringify({ schema: 'tandem.pool.changed/1', at: '2026-01-01T10:00:00.000Z', entity: { kind: 'pool', id: 'tank' }, source: 's', data: { n: id } })}\n\n`;
    res.end(connection === 1 ? `: tandem event feed\nretry: 2000\n\n${ev(7)}${ev(8)}` : ev(9));
  });
  try {
    const c = io();
    await assert.rejects(followEvents(new ApiClient(api.base), c.io, true, { entity: 'pool', id: 'tank' }, 10), (e: unknown) => e instanceof ApiError && e.problem.status === 503);
    assert.deepEqual(api.asked, Array(6).fill('GET /api/v1/events?entity=pool&id=tank'));
    assert.deepEqual(
      api.headers.map((h) => h['last-event-id']),
      [undefined, '8', '9', '9', '9', '9'],
    );
    assert.deepEqual(
      c.out.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { data: { n: number } }).data.n),
      [7, 8, 9],
    );
    // refused (4xx) on the way: at once
    let n = 0;
    await withApi(
      (_req, res) => {
        if (n++ === 0) return res.writeHead(200, { 'content-type': 'text/event-stream' }).end('id: 3\ndata: {}\n\n');
        json(res, 400, { type: 'urn:tandem:error:INVALID_ARGUMENT', title: 'INVALID_ARGUMENT', status: 400, detail: 'Last-Event-ID: no', field: 'Last-Event-ID' });
      },
      async (refusing) => {
        await assert.rejects(followEvents(new ApiClient(refusing.base), io().io, true, {}, 10), (e: unknown) => e instanceof ApiError && e.problem.status === 400);
        assert.equal(refusing.asked.length, 2);
      },
    );
    // a feed that cannot be had at all: at once
    const refused = await closedPort();
    const started = Date.now();
    const none = io();
    assert.equal(await main(['--api', refused, 'events'], none.io), 1);
    assert.ok(Date.now() - started < 1_500, 'not retried');
    assert.match(none.out.stderr, /^tandem: cannot reach the API at /m);
  } finally {
    api.close();
  }
});
