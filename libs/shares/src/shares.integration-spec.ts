/**
 * Real daemons, no mocks: smbd and NFS-Ganesha started by ShareManager inside a throwaway
 * "server" network namespace, reached with smbclient (and libnfs' nfs-cp/nfs-cat when
 * installed) from a "client" namespace over a veth pair.
 *
 * The ShareManager runs in a helper process (shares.integration-helper.ts) started with
 * `ip netns exec`, as host-executor runs inside its node's namespace; killing and restarting
 * that helper is a host-executor restart.
 *
 * Needs root, iproute2, smbd and smbclient; the NFS tests need ganesha.nfsd (+ FSAL VFS) and
 * are skipped without it; the NFS client checks need libnfs-utils.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, ResultPromise } from 'execa';
import { ProcessRunner } from '@tandem/host';
import { isAlive, sleep } from './proc';
import { ShareStatus } from './types';

const SRV = 'tb-it-sh-srv';
const CLI = 'tb-it-sh-cli';
const VETH_SRV = 'tbitsh0';
const VETH_CLI = 'tbitsh1';
const A1 = '10.77.9.1';
const A_CLIENT = '10.77.9.2';
const A2 = '10.77.9.3';
const A_ABSENT = '10.77.9.5';
const A6 = 'fd77:9::1';
const A6_CLIENT = 'fd77:9::2';
const STOP_TIMEOUT_MS = 1_500;

const runner = new ProcessRunner(30_000);
const repoRoot = resolve(__dirname, '../../../..');
const helperJs = join(__dirname, 'shares.integration-helper.js');

function which(cmd: string): boolean {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/bin', '/usr/local/sbin'].some((d) => existsSync(join(d, cmd)));
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const missing = ['ip', 'smbd', 'smbclient', 'smbcontrol'].filter((c) => !which(c));
const skipAll = !isRoot ? 'needs root' : missing.length ? `missing ${missing.join(', ')}` : false;
const hasGanesha = which('ganesha.nfsd') && existsSync('/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so');
const hasNfsClient = which('nfs-cp') && which('nfs-cat');

interface AgentError {
  name: string;
  message: string;
  code?: string;
  field?: string;
}

class AgentCallError extends Error {
  constructor(readonly detail: AgentError) {
    super(detail.message);
  }
  get code() {
    return this.detail.code;
  }
  get field() {
    return this.detail.field;
  }
}

/** The ShareManager-driving helper, running inside the server namespace. */
class Agent {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  pid = 0;
  private stderr = '';

  private constructor(private readonly child: ResultPromise) {}

  static async spawn(stateDir: string): Promise<Agent> {
    const child = execa(
      'ip',
      [
        'netns',
        'exec',
        SRV,
        process.execPath,
        '-r',
        join(repoRoot, 'tools/register.js'),
        helperJs,
        stateDir,
        JSON.stringify({ timeoutMs: 15_000, stopTimeoutMs: STOP_TIMEOUT_MS, nfsGraceSeconds: 5, nfsLeaseSeconds: 5 }),
      ],
      { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, cwd: repoRoot },
    );
    const agent = new Agent(child);
    child.stderr!.on('data', (b: Buffer) => (agent.stderr += b.toString()));
    const ready = new Promise<void>((resolveReady, rejectReady) => {
      const timer = setTimeout(() => rejectReady(new Error(`helper did not start: ${agent.stderr}`)), 20_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = JSON.parse(line) as { ready?: boolean; pid?: number; id?: number; result?: unknown; error?: AgentError };
        if (msg.ready) {
          agent.pid = msg.pid!;
          clearTimeout(timer);
          resolveReady();
          return;
        }
        const p = agent.pending.get(msg.id!);
        if (!p) return;
        agent.pending.delete(msg.id!);
        if (msg.error) p.reject(new AgentCallError(msg.error));
        else p.resolve(msg.result);
      });
      void child.then(() => {
        clearTimeout(timer);
        rejectReady(new Error(`helper exited: ${agent.stderr}`));
        for (const p of agent.pending.values()) p.reject(new Error(`helper exited: ${agent.stderr}`));
        agent.pending.clear();
      });
    });
    await ready;
    return agent;
  }

  call<T>(method: 'start' | 'stop' | 'list' | 'stopAll', ...args: unknown[]): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((res, rej) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        rej(new Error(`${method} timed out in the test`));
      }, 60_000);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), res(v as T)),
        reject: (e) => (clearTimeout(timer), rej(e)),
      });
      this.child.stdin!.write(JSON.stringify({ id, method, args }) + '\n');
    });
  }

  /** Ends the helper like a crashed host-executor: daemons it started keep running. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.child.catch(() => undefined);
  }
}

async function nsPids(ns: string): Promise<number[]> {
  const r = await runner.run(['ip', 'netns', 'pids', ns], { allowFailure: true, timeoutMs: 5_000 });
  return r.stdout.split(/\s+/).filter(Boolean).map(Number);
}

async function cleanupNamespaces(): Promise<void> {
  for (const ns of [SRV, CLI]) {
    const list = await runner.run(['ip', 'netns', 'list'], { timeoutMs: 5_000 });
    if (!list.stdout.split('\n').some((l) => l.split(' ')[0] === ns)) continue;
    // Only processes that this test started live in these namespaces.
    for (const pid of await nsPids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await runner.run(['ip', 'netns', 'del', ns], { allowFailure: true, timeoutMs: 5_000 });
  }
}

async function inClient(argv: string[], timeoutMs = 20_000) {
  return runner.run(['ip', 'netns', 'exec', CLI, ...argv], { allowFailure: true, timeoutMs });
}

/** 'open' | 'closed ECONNREFUSED' | 'timeout' as seen from the client namespace. */
async function probe(host: string, port: number): Promise<string> {
  const code =
    "const s=require('net').connect({host:process.argv[1],port:+process.argv[2]});" +
    "s.setTimeout(2000);s.on('connect',()=>{console.log('open');process.exit(0)});" +
    "s.on('error',e=>{console.log('closed '+e.code);process.exit(0)});" +
    "s.on('timeout',()=>{console.log('timeout');process.exit(0)});";
  const r = await inClient([process.execPath, '-e', code, host, String(port)], 10_000);
  return r.stdout.trim();
}

async function smb(address: string, share: string, commands: string) {
  const r = await inClient(['smbclient', '-N', `//${address}/${share}`, '-c', commands]);
  return { ok: r.exitCode === 0 && !/NT_STATUS_/.test(r.stdout + r.stderr), out: r.stdout + r.stderr };
}

async function assertGone(pid: number): Promise<void> {
  for (let i = 0; i < 50 && (await isAlive(pid)); i++) await sleep(100);
  assert.equal(await isAlive(pid), false, `pid ${pid} still alive`);
}

describe('ShareManager with real smbd / NFS-Ganesha in network namespaces', { skip: skipAll, concurrency: 1 }, () => {
  let work = '';
  let stateDir = '';
  let agent: Agent | undefined;
  const dirs: Record<string, string> = {};

  before(async () => {
    await cleanupNamespaces();
    const ip = (...args: string[]) => runner.run(['ip', ...args], { timeoutMs: 10_000 });
    await ip('netns', 'add', SRV);
    await ip('netns', 'add', CLI);
    await ip('link', 'add', VETH_SRV, 'netns', SRV, 'type', 'veth', 'peer', 'name', VETH_CLI, 'netns', CLI);
    await ip('-n', SRV, 'addr', 'add', `${A1}/24`, 'dev', VETH_SRV);
    await ip('-n', SRV, 'addr', 'add', `${A2}/24`, 'dev', VETH_SRV);
    await ip('-n', SRV, 'addr', 'add', `${A6}/64`, 'dev', VETH_SRV, 'nodad');
    await ip('-n', CLI, 'addr', 'add', `${A_CLIENT}/24`, 'dev', VETH_CLI);
    await ip('-n', CLI, 'addr', 'add', `${A6_CLIENT}/64`, 'dev', VETH_CLI, 'nodad');
    for (const [ns, dev] of [
      [SRV, VETH_SRV],
      [CLI, VETH_CLI],
    ]) {
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'link', 'set', dev, 'up');
    }
    work = await mkdtemp(join(tmpdir(), 'tb-it-shares-'));
    // SMB guests act as nobody: the shared directories are theirs to write to (as an operator makes them)
    await chmod(work, 0o755);
    stateDir = join(work, 'state');
    for (const d of ['alpha', 'alpha-ro', 'beta', 'gamma', 'lab', 'nfs1', 'nfs-ro', 'nfs-root', 'client']) {
      dirs[d] = join(work, d);
      await mkdir(dirs[d], { recursive: true });
      if (['alpha', 'beta', 'gamma', 'lab'].includes(d)) await chmod(dirs[d], 0o1777);
    }
    await writeFile(join(dirs['alpha-ro'], 'readme.txt'), 'read only\n');
    await writeFile(join(dirs['nfs-ro'], 'readme.txt'), 'nfs read only\n');
    agent = await Agent.spawn(stateDir);
  });

  after(async () => {
    if (agent) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([agent.call('stopAll').catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, 30_000)))]);
      clearTimeout(timer);
      await agent.kill();
    }
    await cleanupNamespaces();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const a = () => agent!;
  const alpha = { pool: 'tank-a', name: 'alpha', protocol: 'smb' as const, path: '', addresses: [A1] };
  let alphaPid = 0;
  let betaPid = 0;

  test('invalid input is rejected with the field named, before anything runs', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: '; rm -rf /' }, 'name'],
      [{ pool: '; rm -rf /' }, 'pool'],
      [{ path: '/tmp/$(reboot)' }, 'path'],
      [{ path: '/tmp/x\n[global]' }, 'path'],
      [{ addresses: ['999.1.1.1'] }, 'addresses'],
      [{ addresses: [] }, 'addresses'],
      [{ protocol: 'ftp' }, 'protocol'],
    ];
    for (const [override, field] of cases) {
      await assert.rejects(a().call('start', { ...alpha, path: dirs.alpha, ...override }), (err: AgentCallError) => {
        assert.equal(err.code, 'INVALID_ARGUMENT', err.message);
        assert.equal(err.field, field, err.message);
        return true;
      });
    }
    await assert.rejects(a().call('stop', 'tank-a', '$(reboot)'), (e: AgentCallError) => e.field === 'name');
    assert.deepEqual(await a().call('list'), []);
    assert.equal(existsSync(join(stateDir, 'shares')), false, 'nothing written');
    assert.deepEqual(await nsPids(SRV), [a().pid], 'no daemon started in the server namespace');
  });

  test('a path that is not a directory, or an address not on this node, fails to start cleanly', async () => {
    await assert.rejects(a().call('start', { ...alpha, path: join(work, 'nope') }), (e: AgentCallError) => {
      assert.equal(e.code, 'SHARE_START_FAILED');
      assert.equal(e.field, 'path');
      return true;
    });
    await assert.rejects(a().call('start', { ...alpha, path: dirs.alpha, addresses: [A_ABSENT] }), (e: AgentCallError) => {
      assert.equal(e.code, 'SHARE_START_FAILED');
      assert.equal(e.field, 'addresses');
      assert.match(e.message, /10\.77\.9\.5/);
      return true;
    });
    assert.deepEqual(await a().call('list'), []);
    assert.deepEqual(await nsPids(SRV), [a().pid]);
  });

  test('SMB share on 10.77.9.1: a client puts and gets a file through it', async () => {
    const st = await a().call<ShareStatus>('start', { ...alpha, path: dirs.alpha });
    assert.equal(st.running, true);
    assert.ok(st.pid && st.pid > 1);
    assert.deepEqual(st.addresses, [A1]);
    alphaPid = st.pid!;

    const local = join(dirs.client, 'hello.txt');
    const back = join(dirs.client, 'hello.back.txt');
    await writeFile(local, 'hello through smb\n');
    const r = await smb(A1, 'alpha', `put ${local} hello.txt; get hello.txt ${back}`);
    assert.ok(r.ok, r.out);
    assert.equal(await readFile(join(dirs.alpha, 'hello.txt'), 'utf8'), 'hello through smb\n');
    assert.equal(await readFile(back, 'utf8'), 'hello through smb\n');
    // a guest acts as nobody, never as root: its file is nobody's, and a directory only root may write to refuses it
    assert.equal((await stat(join(dirs.alpha, 'hello.txt'))).uid, 65534, 'written as nobody');
    // and writes it again: a guest's own file is its to overwrite (it was not, as a forced user)
    await writeFile(local, 'hello again\n');
    const again = await smb(A1, 'alpha', `put ${local} hello.txt`);
    assert.ok(again.ok, `a guest could not overwrite its own file: ${again.out}`);
    assert.equal(await readFile(join(dirs.alpha, 'hello.txt'), 'utf8'), 'hello again\n');
    await mkdir(join(dirs.alpha, 'root-only'), { mode: 0o755 });
    await chmod(join(dirs.alpha, 'root-only'), 0o755);
    const denied = await smb(A1, 'alpha', `put ${local} root-only/nope.txt`);
    assert.equal(denied.ok, false, `a guest wrote where only root may: ${denied.out}`);
    assert.match(denied.out, /NT_STATUS_ACCESS_DENIED/);
    await assert.rejects(stat(join(dirs.alpha, 'root-only', 'nope.txt')), 'nothing was written');
  });

  test('starting the identical share again is a no-op (same pid)', async () => {
    const st = await a().call<ShareStatus>('start', { ...alpha, path: dirs.alpha });
    assert.equal(st.pid, alphaPid);
    assert.equal(st.running, true);
  });

  test('the share bound to 10.77.9.1 is not reachable at 10.77.9.3', async () => {
    assert.equal(await probe(A1, 445), 'open');
    assert.match(await probe(A2, 445), /^closed ECONNREFUSED/);
    const r = await smb(A2, 'alpha', 'ls');
    assert.equal(r.ok, false, r.out);
  });

  test('a second pool runs its own smbd on 10.77.9.3 alongside the first', async () => {
    const st = await a().call<ShareStatus>('start', {
      pool: 'tank-b',
      name: 'beta',
      protocol: 'smb',
      path: dirs.beta,
      addresses: [A2],
    });
    assert.equal(st.running, true);
    assert.notEqual(st.pid, alphaPid);
    betaPid = st.pid!;
    const local = join(dirs.client, 'b.txt');
    await writeFile(local, 'pool b\n');
    assert.ok((await smb(A2, 'beta', `put ${local} b.txt`)).ok);
    assert.equal(await readFile(join(dirs.beta, 'b.txt'), 'utf8'), 'pool b\n');
    // Each instance serves only its own pool's shares on its own address.
    assert.match((await smb(A2, 'alpha', 'ls')).out, /NT_STATUS_BAD_NETWORK_NAME/);
    assert.match((await smb(A1, 'beta', 'ls')).out, /NT_STATUS_BAD_NETWORK_NAME/);
    assert.ok((await smb(A1, 'alpha', 'ls')).ok);
    const list = await a().call<ShareStatus[]>('list');
    assert.deepEqual(
      list.map((s) => [s.pool, s.name, s.running, s.pid]),
      [
        ['tank-a', 'alpha', true, alphaPid],
        ['tank-b', 'beta', true, betaPid],
      ],
    );
  });

  test('adding a read-only share to a running pool reloads without a restart; removing it stops only it', async () => {
    const st = await a().call<ShareStatus>('start', {
      pool: 'tank-a',
      name: 'alpha-ro',
      protocol: 'smb',
      path: dirs['alpha-ro'],
      addresses: [A1],
      readOnly: true,
    });
    assert.equal(st.pid, alphaPid, 'same smbd');
    const back = join(dirs.client, 'readme.back.txt');
    assert.ok((await smb(A1, 'alpha-ro', `get readme.txt ${back}`)).ok);
    assert.equal(await readFile(back, 'utf8'), 'read only\n');
    const w = await smb(A1, 'alpha-ro', `put ${back} nope.txt`);
    assert.equal(w.ok, false);
    assert.match(w.out, /NT_STATUS_(ACCESS_DENIED|MEDIA_WRITE_PROTECTED)/);

    await a().call('stop', 'tank-a', 'alpha-ro', 'smb');
    assert.match((await smb(A1, 'alpha-ro', 'ls')).out, /NT_STATUS_BAD_NETWORK_NAME/);
    assert.ok((await smb(A1, 'alpha', 'ls')).ok, 'the other share of the pool is still served');
    const list = await a().call<ShareStatus[]>('list');
    assert.deepEqual(
      list.filter((s) => s.pool === 'tank-a').map((s) => [s.name, s.pid]),
      [['alpha', alphaPid]],
    );
  });

  test('a restarted host-executor finds the running shares from the system, not from memory', async () => {
    await a().kill();
    agent = await Agent.spawn(stateDir);
    const list = await a().call<ShareStatus[]>('list');
    assert.deepEqual(
      list.map((s) => [s.pool, s.name, s.running, s.pid]),
      [
        ['tank-a', 'alpha', true, alphaPid],
        ['tank-b', 'beta', true, betaPid],
      ],
    );
    const st = await a().call<ShareStatus>('start', { ...alpha, path: dirs.alpha });
    assert.equal(st.pid, alphaPid, 'still a no-op after the restart');
  });

  test('a daemon that died is reported as not running and restarted by start', async () => {
    process.kill(-betaPid, 'SIGKILL');
    await assertGone(betaPid);
    const list = await a().call<ShareStatus[]>('list');
    const beta = list.find((s) => s.pool === 'tank-b')!;
    assert.equal(beta.running, false);
    assert.equal(beta.pid, undefined);
    const st = await a().call<ShareStatus>('start', {
      pool: 'tank-b',
      name: 'beta',
      protocol: 'smb',
      path: dirs.beta,
      addresses: [A2],
    });
    assert.equal(st.running, true);
    assert.notEqual(st.pid, betaPid);
    betaPid = st.pid!;
    assert.ok((await smb(A2, 'beta', 'ls')).ok);
  });

  test('stop is bounded: a daemon that ignores SIGTERM is SIGKILLed', async () => {
    process.kill(betaPid, 'SIGSTOP'); // a stopped process cannot act on SIGTERM
    const t0 = Date.now();
    await a().call('stop', 'tank-b');
    const took = Date.now() - t0;
    assert.ok(took < STOP_TIMEOUT_MS + 4_000, `stop took ${took} ms`);
    await assertGone(betaPid);
    assert.match(await probe(A2, 445), /^closed ECONNREFUSED/);
    assert.deepEqual(
      (await a().call<ShareStatus[]>('list')).map((s) => s.pool),
      ['tank-a'],
    );
  });

  test('stop closes the port and ends the daemon; stopping again is a no-op', async () => {
    await a().call('stop', 'tank-a');
    await assertGone(alphaPid);
    assert.match(await probe(A1, 445), /^closed ECONNREFUSED/);
    await a().call('stop', 'tank-a');
    await a().call('stop', 'tank-a', 'alpha', 'smb');
    await a().call('stop', 'never-started');
    assert.deepEqual(await a().call('list'), []);
    assert.deepEqual(await nsPids(SRV), [a().pid], 'no daemon left behind');
  });

  test('SMB over IPv6', async () => {
    const st = await a().call<ShareStatus>('start', {
      pool: 'tank-c',
      name: 'gamma',
      protocol: 'smb',
      path: dirs.gamma,
      addresses: [A6],
    });
    assert.equal(st.running, true);
    const local = join(dirs.client, 'v6.txt');
    await writeFile(local, 'v6\n');
    const r = await smb(A6, 'gamma', `put ${local} v6.txt`);
    assert.ok(r.ok, r.out);
    assert.equal(await readFile(join(dirs.gamma, 'v6.txt'), 'utf8'), 'v6\n');
    assert.match(await probe(A1, 445), /^closed/);
    await a().call('stop', 'tank-c');
    await assertGone(st.pid!);
  });

  test('an SMB share limited to client networks refuses every other client, and takes this one once listed', async () => {
    const lab = { pool: 'tank-l', name: 'lab', protocol: 'smb' as const, path: dirs.lab, addresses: [A2] };
    const st = await a().call<ShareStatus>('start', { ...lab, clients: ['10.77.8.0/24'] });
    const local = join(dirs.client, 'lab.txt');
    await writeFile(local, 'lab\n');
    const refused = await smb(A2, 'lab', `put ${local} lab.txt`);
    assert.equal(refused.ok, false, `a client outside 10.77.8.0/24 was let in: ${refused.out}`);
    assert.equal(existsSync(join(dirs.lab, 'lab.txt')), false);
    // the same share with this client's network: reloaded, and the client gets in
    await a().call<ShareStatus>('start', { ...lab, clients: ['10.77.8.0/24', `${A_CLIENT}/32`] });
    const let_in = await smb(A2, 'lab', `put ${local} lab.txt`);
    assert.ok(let_in.ok, let_in.out);
    assert.equal(await readFile(join(dirs.lab, 'lab.txt'), 'utf8'), 'lab\n');
    await a().call('stop', 'tank-l');
    await assertGone(st.pid!);
  });

  describe('NFS (NFS-Ganesha, NFSv4, FSAL VFS)', { skip: hasGanesha ? false : 'ganesha.nfsd with FSAL VFS not installed' }, () => {
    const nfs = { pool: 'tank-a', name: 'nfs1', protocol: 'nfs' as const, path: '', addresses: [A1] };
    let nfsPid = 0;

    test('an NFS share of more than one address is refused (ganesha binds one)', async () => {
      await assert.rejects(a().call('start', { ...nfs, path: dirs.nfs1, addresses: [A1, A2] }), (e: AgentCallError) => e.code === 'INVALID_ARGUMENT' && e.field === 'addresses');
    });

    test('NFS share on 10.77.9.1 serves NFSv4 there and nowhere else; start twice is a no-op', async () => {
      const st = await a().call<ShareStatus>('start', { ...nfs, path: dirs.nfs1 });
      assert.equal(st.running, true);
      nfsPid = st.pid!;
      assert.equal(await probe(A1, 2049), 'open');
      assert.match(await probe(A2, 2049), /^closed ECONNREFUSED/);
      assert.equal((await a().call<ShareStatus>('start', { ...nfs, path: dirs.nfs1 })).pid, nfsPid);
    });

    test('a client writes and reads a file over NFSv4, its root squashed to nobody', { skip: hasNfsClient ? false : 'libnfs-utils (nfs-cp, nfs-cat) not installed' }, async () => {
      const local = join(dirs.client, 'nfs.txt');
      await writeFile(local, 'hello through nfs\n');
      // a directory everyone may write, set before any client looked (the server caches what it saw);
      // nobody must also get through the test's own directory, made 0700 by mkdtemp
      await chmod(work, 0o755);
      await mkdir(join(dirs.nfs1, 'open'), { mode: 0o1777 });
      await chmod(join(dirs.nfs1, 'open'), 0o1777);
      // the client's root acts as nobody: the export's root, which only root may write, stays closed to it
      const denied = await inClient(['nfs-cp', local, `nfs://${A1}/nfs1/nfs.txt?version=4`]);
      assert.notEqual(denied.exitCode, 0, `root was not squashed: ${denied.stdout}${denied.stderr}`);
      assert.equal(existsSync(join(dirs.nfs1, 'nfs.txt')), false);
      const put = await inClient(['nfs-cp', local, `nfs://${A1}/nfs1/open/nfs.txt?version=4`]);
      assert.equal(put.exitCode, 0, put.stdout + put.stderr);
      assert.equal(await readFile(join(dirs.nfs1, 'open', 'nfs.txt'), 'utf8'), 'hello through nfs\n');
      assert.equal((await stat(join(dirs.nfs1, 'open', 'nfs.txt'))).uid, 65534, 'written as nobody');
      const cat = await inClient(['nfs-cat', `nfs://${A1}/nfs1/open/nfs.txt?version=4`]);
      assert.equal(cat.exitCode, 0, cat.stderr);
      assert.equal(cat.stdout, 'hello through nfs\n');
      const wrong = await inClient(['nfs-cat', `nfs://${A2}/nfs1/open/nfs.txt?version=4`]);
      assert.notEqual(wrong.exitCode, 0);
    });

    test('a read-only export is added by reload (same pid) and refuses writes', async () => {
      const st = await a().call<ShareStatus>('start', {
        ...nfs,
        name: 'nfs-ro',
        path: dirs['nfs-ro'],
        readOnly: true,
      });
      assert.equal(st.pid, nfsPid);
      if (!hasNfsClient) return;
      const cat = await inClient(['nfs-cat', `nfs://${A1}/nfs-ro/readme.txt?version=4`]);
      assert.equal(cat.exitCode, 0, cat.stderr);
      assert.equal(cat.stdout, 'nfs read only\n');
      const put = await inClient(['nfs-cp', join(dirs.client, 'nfs.txt'), `nfs://${A1}/nfs-ro/nope.txt?version=4`]);
      assert.notEqual(put.exitCode, 0);
      assert.match(put.stdout + put.stderr, /ROFS|denied|PERM/i);
    });

    test(
      'an export without root squash keeps root; one limited to other networks refuses this client until it is listed',
      { skip: hasNfsClient ? false : 'libnfs-utils (nfs-cp, nfs-cat) not installed' },
      async () => {
        const root = { ...nfs, name: 'nfs-root', path: dirs['nfs-root'], rootSquash: false };
        assert.equal((await a().call<ShareStatus>('start', root)).pid, nfsPid, 'added by reload');
        const local = join(dirs.client, 'root.txt');
        await writeFile(local, 'as root\n');
        const put = await inClient(['nfs-cp', local, `nfs://${A1}/nfs-root/root.txt?version=4`]);
        assert.equal(put.exitCode, 0, put.stdout + put.stderr);
        assert.equal((await stat(join(dirs['nfs-root'], 'root.txt'))).uid, 0, 'written as root');
        // the same export for 10.77.8.0/24 only: this client (10.77.9.2) gets nothing
        await a().call<ShareStatus>('start', { ...root, clients: ['10.77.8.0/24'] });
        const refused = await inClient(['nfs-cat', `nfs://${A1}/nfs-root/root.txt?version=4`]);
        assert.notEqual(refused.exitCode, 0, `a client outside the allow-list read the export: ${refused.stdout}`);
        await a().call<ShareStatus>('start', { ...root, clients: ['10.77.8.0/24', `${A_CLIENT}/32`] });
        const cat = await inClient(['nfs-cat', `nfs://${A1}/nfs-root/root.txt?version=4`]);
        assert.equal(cat.exitCode, 0, cat.stderr);
        assert.equal(cat.stdout, 'as root\n');
      },
    );

    test('SMB and NFS of one pool run side by side, and stop(pool) ends both', async () => {
      const smbSt = await a().call<ShareStatus>('start', { ...alpha, path: dirs.alpha });
      assert.equal(await probe(A1, 445), 'open');
      assert.equal(await probe(A1, 2049), 'open');
      await a().call('stop', 'tank-a');
      await assertGone(nfsPid);
      await assertGone(smbSt.pid!);
      assert.match(await probe(A1, 2049), /^closed ECONNREFUSED/);
      assert.match(await probe(A1, 445), /^closed ECONNREFUSED/);
      assert.deepEqual(await a().call('list'), []);
      assert.deepEqual(await nsPids(SRV), [a().pid], 'no daemon left behind');
    });
  });
});
