import * as fs from 'node:fs';
import { forgetTestbedCa, knownNatsIdentities, testbedNatsCaFile } from './nats-keys';
import * as path from 'node:path';
import { TestbedError } from './errors';
import {
  API_PORT,
  DEFAULT_ROOT,
  DEFAULT_STORAGE_NODES,
  MAX_STORAGE_NODES,
  NATS_CLIENT_PORT,
  NETWORK_NAMES,
  NODE_NAME_RE,
  NetworkName,
  NodeRole,
  NodeSpec,
  Paths,
  clusterSpec,
  hostVethName,
  netnsPath,
  runsNats,
} from './layout';
import {
  dropMountNs,
  dropNodeNetwork,
  ensureBridges,
  ensureMountNs,
  ensureNodeNetwork,
  ensureNsDir,
  killNetnsProcesses,
  listLinks,
  mountNsExists,
  netnsExists,
  nsenterArgs,
  setHostLink,
  teardownAll,
} from './namespaces';
import { ensureNats, waitForMetaLeader } from './nats-cluster';
import { ensurePgTemplate, ensurePostgres } from './postgres';
import { checkPrereqs } from './prereqs';
import { RunResult, elapsed, isAlive, killPid, run, runInherit, spawnDaemon, tracedBy, waitFor } from './proc';
import { ensureServices } from './services';
import { ensureZfsDaemon } from './zfs-daemon';
import { ensurePacemaker } from './pacemaker';
import { forgetTestbedHttps, hostLinkUp } from './probe';

export type { NetworkName, NodeRole } from './layout';

export type LinkState = 'up' | 'cut' | 'missing';

export interface TestbedNode {
  name: string;
  role: NodeRole;
  netns: string;
  addresses: Record<NetworkName, string | null>;
  /** https://<admin ip>:8080 for storage nodes (its certificate signed by the testbed's CA: `ca`), null otherwise. */
  api: string | null;
  /** Extra: running = the node's namespaces exist; off = powered off. */
  state: 'running' | 'off';
  /** Extra: NATS client URL reachable from the root namespace (storage nodes and witness). */
  nats: string | null;
  /** Extra: host-side veth per network (null where the node is not on that network). */
  links: Record<NetworkName, LinkState | null>;
}

export interface TestbedStatus {
  nodes: TestbedNode[];
  jbod: string;
  /** Extra: false when the testbed is down (no state file). */
  up: boolean;
  root: string;
  /** The testbed's CA (PEM file): it signed every node's NATS and API certificate. */
  ca: string;
}

export interface TestbedOptions {
  /** Root directory; default $TANDEM_TESTBED_DIR or /var/lib/tandem-testbed. */
  root?: string;
  /** Progress lines; default: stderr with a `[testbed] ` prefix. */
  log?: (line: string) => void;
}

export interface UpOptions {
  nodes?: number;
  /** Start the five Node services on every storage node (default true). */
  services?: boolean;
  /**
   * Only the machines: namespaces, networks and disks, with none of the testbed's daemons
   * (zfs-fuse, NATS, Postgres) nor services — for a deployment that brings its own, such as the
   * docker compose files of the deployment test (default false).
   */
  bare?: boolean;
  /**
   * What the storage nodes run: `tandem` (its daemons and services, the default) or `pacemaker`,
   * the peer it is measured against: zfs-fuse plus a two-node corosync/Pacemaker cluster (no NATS,
   * Postgres nor Tandem services; see pacemaker.ts).
   */
  stack?: Stack;
}

export type Stack = 'tandem' | 'pacemaker';

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

interface StateFile {
  version: 1;
  storageNodes: number;
  services: boolean;
  /** Only namespaces, networks and disks: no daemon of the testbed's (see UpOptions.bare). */
  bare?: boolean;
  /** What the storage nodes run (absent: tandem). */
  stack?: Stack;
  /** Nodes that are powered off. */
  off: string[];
  /** "<node>/<network>" links that are cut; re-applied when the node is powered on again. */
  cuts: string[];
  createdAt: string;
}

const DEFAULT_EXEC_TIMEOUT_MS = 60_000;

function daemonEnv(): Record<string, string> {
  return { PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
}

function isNetwork(n: string): n is NetworkName {
  return (NETWORK_NAMES as readonly string[]).includes(n);
}

/** Awaits every promise; if any failed, throws one error listing all failures. */
async function settleAll(promises: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(promises);
  const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  if (errors.length === 0) return;
  if (errors.length === 1) throw errors[0];
  const first = errors[0];
  const code = first instanceof TestbedError ? first.code : 'COMMAND_FAILED';
  throw new TestbedError(code, errors.map((e) => (e instanceof Error ? e.message : String(e))).join('\n'));
}

export class Testbed {
  readonly root: string;
  readonly paths: Paths;
  private readonly log: (line: string) => void;

  constructor(opts: TestbedOptions = {}) {
    this.root = path.resolve(opts.root ?? process.env['TANDEM_TESTBED_DIR'] ?? DEFAULT_ROOT);
    this.paths = new Paths(this.root);
    this.log = opts.log ?? ((line) => process.stderr.write(`[testbed] ${line}\n`));
  }

  // -------------------------------------------------------------------------------------------
  // up / down
  // -------------------------------------------------------------------------------------------

  async up(opts: UpOptions = {}): Promise<TestbedStatus> {
    checkPrereqs('full');
    const t0 = Date.now();
    const prev = this.readState();
    const n = opts.nodes ?? prev?.storageNodes ?? DEFAULT_STORAGE_NODES;
    if (!Number.isInteger(n) || n < 1 || n > MAX_STORAGE_NODES) {
      throw new TestbedError('USAGE', `--nodes must be an integer from 1 to ${MAX_STORAGE_NODES} (got ${String(opts.nodes)})`);
    }
    if (prev && prev.storageNodes !== n) {
      throw new TestbedError('NODE_COUNT_MISMATCH', `the testbed is already set up with ${prev.storageNodes} storage node(s); run \`npm run testbed -- down\` first to change it to ${n}`);
    }
    this.checkRootSafe();
    const bare = opts.bare ?? prev?.bare ?? false;
    if (prev && (prev.bare ?? false) !== bare) {
      throw new TestbedError('USAGE', `the testbed is already up ${prev.bare ? 'bare (--bare)' : 'with its daemons'}; run \`npm run testbed -- down\` first`);
    }
    const stack = opts.stack ?? prev?.stack ?? 'tandem';
    if (prev && (prev.stack ?? 'tandem') !== stack) {
      throw new TestbedError('USAGE', `the testbed is already up with the ${prev.stack ?? 'tandem'} stack; run \`npm run testbed -- down\` first`);
    }
    if (stack === 'pacemaker' && (bare || n !== 2)) throw new TestbedError('USAGE', 'the Pacemaker peer runs on exactly two storage nodes and is not bare');
    const services = !bare && stack === 'tandem' && (opts.services ?? true);
    if (stack === 'pacemaker') checkPrereqs('pacemaker');
    this.prepareDirs(n);
    const state: StateFile = {
      version: 1,
      storageNodes: n,
      services,
      bare,
      stack,
      off: [],
      cuts: prev?.cuts ?? [],
      createdAt: prev?.createdAt ?? new Date().toISOString(),
    };
    this.writeState(state);
    const specs = clusterSpec(n);
    const storage = specs.filter((s) => s.role === 'storage');
    this.log(`up: ${storage.map((s) => s.name).join(', ')}, witness, client in ${this.root}`);

    // the Postgres template (initdb) does not need the network: start it right away
    const template = bare || stack === 'pacemaker' ? Promise.resolve() : ensurePgTemplate(this.paths, this.log);
    template.catch(() => undefined);

    await ensureBridges();
    await ensureNsDir(this.paths);
    await settleAll(specs.map((s) => this.bootNamespaces(s, state)));
    this.log(`namespaces and networks ready (${elapsed(t0)})`);
    if (bare) {
      this.log(`up: bare (no zfs-fuse, NATS, Postgres nor services), ready in ${elapsed(t0)}`);
      return this.status();
    }

    if (stack === 'pacemaker') {
      await settleAll(storage.map((s) => this.bootPacemakerNode(s, storage)));
      this.log(`up: the Pacemaker peer on ${storage.map((s) => s.name).join(', ')}, ready in ${elapsed(t0)}`);
      return this.status();
    }
    await settleAll([template, ...specs.map((s) => this.bootDaemons(s, specs, template))]);
    // servers cut off the admin network (where NATS routes run) cannot see the others (that is the point of a cut)
    const natsServers = specs.filter((s) => runsNats(s) && hostLinkUp(s, 'admin'));
    if (natsServers.length > 0) {
      const t1 = Date.now();
      const leader = await waitForMetaLeader(natsServers, this.paths, { log: this.log, restart: (s) => this.restartNats(s, specs) });
      this.log(`NATS JetStream meta leader: ${leader} (${elapsed(t1)})`);
    }

    if (services) {
      await settleAll(
        storage.map((s) =>
          ensureServices(
            this.paths,
            s,
            storage.map((x) => x.name),
            this.log,
          ),
        ),
      );
    } else {
      this.log('services not started (--no-services)');
    }
    this.log(`up: ready in ${elapsed(t0)}`);
    return this.status();
  }

  async down(): Promise<void> {
    checkPrereqs('minimal');
    const t0 = Date.now();
    this.reportNatsRefusals();
    await teardownAll(this.paths, this.log);
    this.removeRoot();
    // the CA went with the root: a process that brings the testbed up again trusts the new one
    forgetTestbedCa(this.root);
    forgetTestbedHttps(this.root);
    this.log(`down: done (${elapsed(t0)})`);
  }

  /**
   * What the NATS servers refused (permission violations), told before the logs go with the
   * testbed: a test that provokes them shows them here, and a service's refused call (a missing
   * permission) is seen even when no test failed on it.
   */
  private reportNatsRefusals(): void {
    // reads only: a testbed that is not there (or not ours) is left as it is; no key is made
    const state = this.readState();
    if (!state) return;
    const names = knownNatsIdentities(this.paths.root);
    for (const spec of clusterSpec(state.storageNodes)) {
      let text = '';
      try {
        text = fs.readFileSync(this.paths.logFile(spec.name, 'nats'), 'utf8');
      } catch {
        continue;
      }
      const counts = new Map<string, number>();
      for (const line of text.split('\n')) {
        const m = /(Publish|Subscription) Violation - (?:User|Nkey) "([^"]*)", Subject "([^"]*)"/.exec(line);
        if (!m) continue;
        const what = `${names.get(m[2]) ?? m[2]} may not ${m[1] === 'Publish' ? 'publish to' : 'subscribe to'} ${m[3]}`;
        counts.set(what, (counts.get(what) ?? 0) + 1);
      }
      for (const [what, n] of counts) this.log(`${spec.name}: NATS refused: ${what}${n > 1 ? ` (${n} times)` : ''}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // status
  // -------------------------------------------------------------------------------------------

  async status(): Promise<TestbedStatus> {
    const state = this.readState();
    if (!state) return { nodes: [], jbod: this.paths.jbod, up: false, root: this.root, ca: testbedNatsCaFile(this.root) };
    const links = new Map((await listLinks()).map((l) => [l.name, l]));
    const nodes = clusterSpec(state.storageNodes).map((spec): TestbedNode => {
      const running = netnsExists(spec) && (spec.role !== 'storage' || mountNsExists(this.paths, spec.name));
      const linkState = {} as Record<NetworkName, LinkState | null>;
      for (const net of NETWORK_NAMES) {
        if (spec.addresses[net] === null) linkState[net] = null;
        else {
          const l = links.get(hostVethName(spec, net));
          linkState[net] = l === undefined ? 'missing' : l.adminUp ? 'up' : 'cut';
        }
      }
      return {
        name: spec.name,
        role: spec.role,
        netns: spec.netns,
        addresses: { ...spec.addresses },
        api: spec.role === 'storage' ? `https://${spec.addresses.admin}:${API_PORT}` : null,
        state: running ? 'running' : 'off',
        nats: runsNats(spec) ? `nats://${spec.addresses.admin}:${NATS_CLIENT_PORT}` : null,
        links: linkState,
      };
    });
    return { nodes, jbod: this.paths.jbod, up: true, root: this.root, ca: testbedNatsCaFile(this.root) };
  }

  // -------------------------------------------------------------------------------------------
  // faults
  // -------------------------------------------------------------------------------------------

  /** Power cut: SIGKILL every process of the node, then drop its namespaces. Disks survive. */
  async powerOff(node: string): Promise<void> {
    checkPrereqs('minimal');
    const { spec, state } = this.resolve(node);
    const t0 = Date.now();
    await killNetnsProcesses(spec.netns, 0);
    if (spec.role === 'storage') await dropMountNs(this.paths, spec.name);
    await dropNodeNetwork(spec);
    if (!state.off.includes(spec.name)) state.off.push(spec.name);
    this.writeState(state);
    this.log(`${spec.name}: powered off (${elapsed(t0)})`);
  }

  /** Fresh boot: new namespaces, veths, tmpfs mounts, daemons and services. */
  async powerOn(node: string, opts: { services?: boolean } = {}): Promise<void> {
    checkPrereqs('full');
    const { spec, state } = this.resolve(node);
    const t0 = Date.now();
    const specs = clusterSpec(state.storageNodes);
    state.off = state.off.filter((n) => n !== spec.name);
    this.writeState(state);
    this.prepareDirs(state.storageNodes);
    await ensureBridges();
    await ensureNsDir(this.paths);
    await this.bootNamespaces(spec, state);
    if (state.bare) {
      this.log(`${spec.name}: powered on, bare (${elapsed(t0)})`);
      return;
    }
    if (state.stack === 'pacemaker') {
      if (spec.role === 'storage')
        await this.bootPacemakerNode(
          spec,
          specs.filter((s) => s.role === 'storage'),
        );
      this.log(`${spec.name}: powered on, Pacemaker peer (${elapsed(t0)})`);
      return;
    }
    const template = spec.role === 'storage' ? ensurePgTemplate(this.paths, this.log) : Promise.resolve();
    template.catch(() => undefined);
    await settleAll([template, this.bootDaemons(spec, specs, template)]);
    if (runsNats(spec) && !hostLinkUp(spec, 'admin')) {
      this.log(`${spec.name}: admin link is cut, not waiting for its NATS to join the cluster`);
    } else if (runsNats(spec)) {
      const peers = specs.filter((s) => runsNats(s) && !state.off.includes(s.name) && hostLinkUp(s, 'admin')).map((s) => s.name);
      const leader = await waitForMetaLeader([spec], this.paths, { log: this.log, restart: (s) => this.restartNats(s, specs), expectedRoutes: peers });
      this.log(`${spec.name}: NATS sees JetStream meta leader ${leader}`);
    }
    if (spec.role === 'storage' && (opts.services ?? state.services)) {
      const storageNames = specs.filter((s) => s.role === 'storage').map((s) => s.name);
      await ensureServices(this.paths, spec, storageNames, this.log);
    }
    this.log(`${spec.name}: powered on (${elapsed(t0)})`);
  }

  async cut(node: string, net: NetworkName): Promise<void> {
    await this.setLink(node, net, false);
  }

  async heal(node: string, net: NetworkName): Promise<void> {
    await this.setLink(node, net, true);
  }

  /**
   * Disk loss on one node: from now on every I/O that node's ZFS daemon sends to its vdevs fails
   * with EIO (the system calls are made to fail under ptrace), while the files stay intact for
   * every other node — a cut path to the shared JBOD. ZFS suspends the pool there; it stays
   * suspended after `diskHeal` (as on real disks, until `zpool clear`).
   */
  async diskFail(node: string): Promise<void> {
    const spec = this.runningSpec(node);
    if (spec.role !== 'storage') throw new TestbedError('NOT_STORAGE', `${spec.name} has no disks; use a storage node (node-a, node-b, ...)`);
    if (this.diskFaultRunning(spec.name)) return;
    checkPrereqs('disk-fault');
    const zfsPid = Number(fs.readFileSync(this.paths.zfsPid(spec.name), 'utf8').trim());
    if (!isAlive(zfsPid)) throw new TestbedError('DAEMON_EXITED', `${spec.name}: its zfs-fuse is not running; run \`npm run testbed -- up\` first`);
    const log = this.paths.logFile(spec.name, 'disk-fault');
    // zfs-fuse writes and reads its vdevs with Linux AIO only (io_submit)
    const d = spawnDaemon('strace', ['-f', '-qq', '-p', String(zfsPid), '-e', 'trace=io_submit', '-e', 'inject=io_submit:error=EIO', '-o', log], {
      logFile: log,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    });
    fs.writeFileSync(this.paths.diskFaultPid(spec.name), `${d.pid}\n`);
    // attached when the daemon's threads have a tracer
    await waitFor(`${spec.name}: disk fault`, async () => tracedBy(zfsPid) === d.pid, { timeoutMs: 10_000, intervalMs: 50, hint: `see ${log}` });
    this.log(`${spec.name}: disks fail (every vdev I/O of its zfs-fuse answers EIO)`);
  }

  /** The node's disks answer again (the pool stays suspended until `zpool clear`). */
  async diskHeal(node: string): Promise<void> {
    const { spec } = this.resolve(node);
    const file = this.paths.diskFaultPid(spec.name);
    const pid = this.diskFaultRunning(spec.name);
    if (pid) {
      killPid(pid, 'SIGTERM'); // strace detaches from the daemon and exits
      await waitFor(`${spec.name}: disk fault ends`, async () => !isAlive(pid), { timeoutMs: 10_000, intervalMs: 50 });
      this.log(`${spec.name}: disks answer again`);
    }
    fs.rmSync(file, { force: true });
  }

  private diskFaultRunning(node: string): number | null {
    try {
      const pid = Number(fs.readFileSync(this.paths.diskFaultPid(node), 'utf8').trim());
      return Number.isInteger(pid) && isAlive(pid) ? pid : null;
    } catch {
      return null;
    }
  }

  // -------------------------------------------------------------------------------------------
  // commands inside a node
  // -------------------------------------------------------------------------------------------

  async exec(node: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const spec = this.runningSpec(node);
    if (argv.length === 0) throw new TestbedError('USAGE', 'exec needs a command');
    const res: RunResult = await run('nsenter', [...nsenterArgs(this.paths, spec), ...argv], {
      timeoutMs: opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
      reject: false,
      stripFinalNewline: false, // callers get the command's output byte for byte
      ...(opts.input === undefined ? {} : { input: opts.input }),
    });
    return { stdout: res.stdout, stderr: res.stderr, exitCode: res.exitCode };
  }

  async client(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec('client', argv, opts);
  }

  /** Like exec, with the caller's stdin/stdout/stderr; returns the exit code (CLI use). */
  async execInteractive(node: string, argv: string[], timeoutMs = 3_600_000): Promise<number> {
    const spec = this.runningSpec(node);
    if (argv.length === 0) throw new TestbedError('USAGE', 'exec needs a command after `--`');
    return runInherit('nsenter', [...nsenterArgs(this.paths, spec, process.cwd()), ...argv], timeoutMs);
  }

  // -------------------------------------------------------------------------------------------
  // internals
  // -------------------------------------------------------------------------------------------

  private async bootNamespaces(spec: NodeSpec, state: StateFile): Promise<void> {
    const cut = new Set<NetworkName>(
      state.cuts
        .filter((c) => c.startsWith(`${spec.name}/`))
        .map((c) => c.slice(spec.name.length + 1))
        .filter(isNetwork),
    );
    await ensureNodeNetwork(this.paths, spec, cut);
    if (spec.role === 'storage') await ensureMountNs(this.paths, spec);
  }

  private async restartNats(spec: NodeSpec, all: readonly NodeSpec[]): Promise<void> {
    await ensureNats(this.paths, spec, all, daemonEnv(), { restart: true });
  }

  private async bootDaemons(spec: NodeSpec, all: readonly NodeSpec[], template: Promise<void>): Promise<void> {
    const env = daemonEnv();
    const step = async (what: string, fn: () => Promise<boolean>) => {
      const t0 = Date.now();
      const started = await fn();
      this.log(`${spec.name}: ${what} ${started ? 'ready' : 'already running'} (${elapsed(t0)})`);
    };
    const tasks: Array<Promise<void>> = [];
    if (spec.role === 'storage') {
      tasks.push(step('zfs-fuse', () => ensureZfsDaemon(this.paths, spec, env)));
      tasks.push(
        (async () => {
          await template;
          await step('postgres', () => ensurePostgres(this.paths, spec, env));
        })(),
      );
    }
    if (runsNats(spec)) tasks.push(step('nats-server', () => ensureNats(this.paths, spec, all, env)));
    await settleAll(tasks);
  }

  /** zfs-fuse, then corosync and Pacemaker on a storage node of the Pacemaker peer. */
  private async bootPacemakerNode(spec: NodeSpec, storage: readonly NodeSpec[]): Promise<void> {
    const t0 = Date.now();
    await ensureZfsDaemon(this.paths, spec, daemonEnv());
    const started = await ensurePacemaker(this.paths, spec, storage, daemonEnv());
    this.log(`${spec.name}: zfs-fuse, corosync and pacemaker ${started ? 'ready' : 'already running'} (${elapsed(t0)})`);
  }

  private async setLink(node: string, net: string, up: boolean): Promise<void> {
    checkPrereqs('minimal');
    if (!isNetwork(net)) {
      throw new TestbedError('UNKNOWN_NETWORK', `unknown network "${net}"; use one of: ${NETWORK_NAMES.join(', ')}`);
    }
    const { spec, state } = this.resolve(node);
    if (spec.addresses[net] === null) {
      const on = NETWORK_NAMES.filter((n) => spec.addresses[n] !== null);
      throw new TestbedError('NOT_ON_NETWORK', `${spec.name} is not on the ${net} network (it is on: ${on.join(', ')})`);
    }
    const key = `${spec.name}/${net}`;
    state.cuts = state.cuts.filter((c) => c !== key);
    if (!up) state.cuts.push(key);
    if (!netnsExists(spec)) {
      // the cable stays as it is while the node is off: applied when it is powered on
      this.writeState(state);
      this.log(`${spec.name} is off: its ${net} link will be ${up ? 'connected' : 'cut'} when it is powered on`);
      return;
    }
    await setHostLink(spec, net, up);
    this.writeState(state);
    this.log(`${spec.name}: ${net} link ${up ? 'healed' : 'cut'} (${hostVethName(spec, net)} ${up ? 'up' : 'down'})`);
  }

  private resolve(node: string): { spec: NodeSpec; state: StateFile } {
    if (!NODE_NAME_RE.test(node)) {
      throw new TestbedError('UNKNOWN_NODE', `unknown node "${node}"; node names are node-a, node-b, ..., witness, client`);
    }
    const state = this.readState();
    if (!state) throw new TestbedError('NOT_UP', `the testbed is not up (no ${this.paths.stateFile}); run \`npm run testbed -- up\` first`);
    const specs = clusterSpec(state.storageNodes);
    const spec = specs.find((s) => s.name === node);
    if (!spec) {
      throw new TestbedError('UNKNOWN_NODE', `unknown node "${node}"; this testbed has: ${specs.map((s) => s.name).join(', ')}`);
    }
    return { spec, state };
  }

  private runningSpec(node: string): NodeSpec {
    const { spec } = this.resolve(node);
    if (!fs.existsSync(netnsPath(spec)) || (spec.role === 'storage' && !mountNsExists(this.paths, spec.name))) {
      throw new TestbedError('NODE_OFF', `${spec.name} is powered off; run \`npm run testbed -- power-on ${spec.name}\` first`);
    }
    return spec;
  }

  private readState(): StateFile | null {
    try {
      const s = JSON.parse(fs.readFileSync(this.paths.stateFile, 'utf8')) as StateFile;
      if (s.version !== 1 || !Number.isInteger(s.storageNodes)) return null;
      s.off ??= [];
      s.cuts ??= [];
      return s;
    } catch {
      return null;
    }
  }

  private writeState(state: StateFile): void {
    const tmp = `${this.paths.stateFile}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
    fs.renameSync(tmp, this.paths.stateFile);
  }

  private checkRootSafe(): void {
    const root = this.root;
    const depth = root.split('/').filter(Boolean).length;
    if (depth < 2) throw new TestbedError('UNSAFE_ROOT', `refusing to use ${root} as the testbed root (down deletes it); pick a dedicated directory`);
    if (fs.existsSync(root) && !fs.existsSync(this.paths.marker) && fs.readdirSync(root).length > 0) {
      throw new TestbedError('UNSAFE_ROOT', `${root} is not empty and was not created by the testbed (no ${path.basename(this.paths.marker)}); set TANDEM_TESTBED_DIR to an empty or new directory`);
    }
  }

  private prepareDirs(storageNodes: number): void {
    const mk = (p: string, mode = 0o755) => {
      fs.mkdirSync(p, { recursive: true, mode });
      fs.chmodSync(p, mode);
    };
    mk(this.root);
    if (!fs.existsSync(this.paths.marker)) fs.writeFileSync(this.paths.marker, 'created by the Tandem testbed; `down` deletes this directory\n');
    mk(this.paths.jbod);
    mk(path.join(this.root, 'nodes'));
    mk(this.paths.runDir);
    for (const spec of clusterSpec(storageNodes)) {
      if (spec.role === 'client') continue;
      mk(this.paths.nodeDir(spec.name));
      mk(this.paths.logDir(spec.name));
      mk(this.paths.natsStore(spec.name), 0o700);
      if (spec.role === 'storage') {
        mk(this.paths.stateDir(spec.name));
        mk(path.join(this.paths.nodeDir(spec.name), 'run'));
      }
    }
  }

  private removeRoot(): void {
    const root = this.root;
    if (!fs.existsSync(root)) return;
    if (fs.existsSync(this.paths.marker)) {
      fs.rmSync(root, { recursive: true, force: true });
      this.log(`removed ${root}`);
    } else if (fs.readdirSync(root).length === 0) {
      fs.rmdirSync(root);
    } else {
      this.log(`WARNING: not removing ${root}: it has no ${path.basename(this.paths.marker)} marker, so it was not created by the testbed`);
    }
  }
}
