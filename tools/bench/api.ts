import { resolve } from 'node:path';
import { execa } from 'execa';
import { request, type Dispatcher } from 'undici';
import { ApiPaths, POOL_RECORD, type HaPool } from '@tandem/contracts';
import { HeartbeatClient, HostClient, KvRecordStore } from '@tandem/messaging';
import { Testbed, observerConnection, testbedHttps } from '@tandem/testbed';
import { runTreeTasks, waitFor } from '@tandem/util';
import { formCluster, rmCall } from './setup';
import { median, quantile, type BenchReport } from './stats';

/**
 * The operator's reads with many pool records: GET of the cluster status, the pool list and the
 * activity log through node-a's api-gateway (HTTPS, a kept-alive connection, no credentials —
 * reads are open, as the CLI makes them), each called many times; and the same three `tandem`
 * commands end to end (a new process each, its start-up included), fewer times.
 *
 * The pool records are written straight into the pools bucket (POOL_RECORD, valid by its schema)
 * with no disks behind them: inactive, owned by no node, failed on node-a — a state the failover
 * logic leaves alone (it acts on serving pools only). Each is then marked usable on node-a again
 * through the resource-manager (`pool.mark-usable`, a real operation that rewrites the record),
 * which puts two entries per pool in the activity log.
 */
const poolName = (i: number) => `ap${String(i).padStart(3, '0')}`;
const round1 = (x: number) => Number(x.toFixed(1));
const TANDEM = resolve(__dirname, '..', '..', '..', 'bin', 'tandem');
/** Calls of each endpoint per trial (interleaved, so that a slow moment of the machine hits them all alike). */
const CALLS_PER_TRIAL = 10;
const TARGET_MS = 200;

/** The reads measured: the path the CLI asks for, and the `tandem` command that asks it. */
const READS = [
  { name: 'cluster status', path: ApiPaths.cluster, cli: ['cluster', 'status'] },
  { name: 'pool list', path: ApiPaths.pools, cli: ['pool', 'list'] },
  // `tandem log` asks for its default 20 entries; the largest page (the whole history here) too
  { name: 'activity log', path: `${ApiPaths.activity}?limit=20`, cli: ['log'] },
  { name: 'activity log, 1000 a page', path: `${ApiPaths.activity}?limit=1000`, cli: null },
] as const;

export interface Timing {
  calls: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
}

export interface ApiReport extends BenchReport {
  pools: number;
  activityEntries: number;
  /** Through the REST API: one kept-alive HTTPS connection to node-a's gateway. */
  rest: Record<string, Timing>;
  /**
   * What the status is made of, each asked over NATS from here (not held to the target): the
   * resource-manager's answer itself, and what it asks of a node — its heartbeat view, its
   * imported pools and its links (each an OS command run by the host-executor).
   */
  parts: Record<string, Timing>;
  /** `tandem …` end to end, a new process each time; `tandem --version` is the process start-up alone. */
  cli: Record<string, Timing>;
  /** `uptime`'s load averages (1, 5, 15 min) before and after: the machine is shared. */
  load: { before: number[]; after: number[] };
}

function timing(samples: number[]): Timing {
  return { calls: samples.length, medianMs: round1(median(samples)), p95Ms: round1(quantile(samples, 0.95)), maxMs: round1(Math.max(...samples)) };
}

async function loadAverage(): Promise<number[]> {
  const { stdout } = await execa('uptime', [], { timeout: 5_000 });
  return (/load average: (.*)$/.exec(stdout)?.[1] ?? '').split(',').map((x) => Number(x.trim()));
}

/** A record with no disks behind it that the failover logic leaves alone (see the module comment). */
function parkedRecord(name: string): HaPool {
  return {
    name,
    state: 'inactive',
    node: null,
    operation: null,
    reason: 'benchmark record: no disks behind it',
    vips: [],
    shares: [],
    fc: false,
    epoch: 0,
    mountpoint: null,
    updatedAt: new Date().toISOString(),
    failedOn: ['node-a'],
    lastFailoverAt: null,
    mode: 'shared',
  };
}

export async function benchApi(opts: { trials: number; pools: number; cliCalls?: number; log: (l: string) => void }): Promise<ApiReport> {
  if (!Number.isInteger(opts.pools) || opts.pools < 1 || opts.pools > 1000) throw new Error('--pools takes a whole number from 1 to 1000');
  const load = { before: await loadAverage(), after: [] as number[] };
  const tb = new Testbed({ log: () => undefined });
  opts.log('bringing up the testbed');
  const status = await tb.up({ nodes: 2 });
  const nc = await observerConnection(status);
  try {
    await formCluster(nc, opts.log);
    const records = new KvRecordStore(nc, POOL_RECORD);
    const names = Array.from({ length: opts.pools }, (_, i) => poolName(i));
    opts.log(`writing ${opts.pools} pool records (no disks behind them) and marking each usable on node-a again`);
    const results = await runTreeTasks(
      names,
      () => null,
      8,
      async (name) => {
        if (!(await records.get(name))) {
          const w = await records.put(name, parkedRecord(name), 0);
          if (!w.ok) throw new Error(`pool record ${name}: written by someone else meanwhile`);
        }
        await rmCall(nc, 'pool.mark-usable', { pool: name, node: 'node-a', actor: 'bench' });
      },
    );
    const failed = results.find((r) => !r.ok);
    if (failed && !failed.ok) throw failed.error;

    const api = status.nodes.find((n) => n.name === 'node-a')!.api!;
    const dispatcher: Dispatcher = testbedHttps(status.root);
    const get = async (path: string): Promise<{ ms: number; body: unknown }> => {
      const t0 = performance.now();
      const res = await request(`${api}${path}`, { dispatcher });
      const text = await res.body.text();
      const ms = performance.now() - t0;
      if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${text}`);
      return { ms, body: JSON.parse(text) as unknown };
    };
    // what is measured is what it claims: every record listed, the whole history projected
    const entries = await waitFor(
      async () => {
        const log = (await get(`${ApiPaths.activity}?limit=1000`)).body as unknown[];
        if (log.length < 2 * opts.pools) throw new Error(`${log.length} entries in node-a's activity log`);
        return log.length;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `${2 * opts.pools} entries in the activity log` },
    );
    const listed = ((await get(ApiPaths.pools)).body as HaPool[]).filter((p) => names.includes(p.name));
    if (listed.length !== opts.pools || listed.some((p) => (p.failedOn ?? []).length !== 0)) throw new Error(`pool list shows ${listed.length} of the ${opts.pools} records marked usable`);

    const rest = new Map<string, number[]>(READS.map((r) => [r.name, []]));
    for (const r of READS) await get(r.path); // the first of each (connection, caches) is not counted
    for (let t = 0; t < opts.trials; t++) {
      for (let c = 0; c < CALLS_PER_TRIAL; c++) for (const r of READS) rest.get(r.name)!.push((await get(r.path)).ms);
      opts.log(`trial ${t + 1}: ${READS.map((r) => `${r.name} median ${median(rest.get(r.name)!.slice(-CALLS_PER_TRIAL)).toFixed(1)} ms`).join(', ')}`);
    }

    const host = new HostClient(nc);
    const heartbeat = new HeartbeatClient(nc);
    const PARTS: Array<[string, () => Promise<unknown>]> = [
      ['resource-manager cluster.status', () => rmCall(nc, 'cluster.status', {})],
      ['resource-manager pool.list', () => rmCall(nc, 'pool.list', {})],
      ['node-a heartbeat view', () => heartbeat.view('node-a', 5_000)],
      ['node-a host pool.list', () => host.call('node-a', 'pool.list', {}, 5_000)],
      ['node-a host link.list', () => host.call('node-a', 'link.list', {}, 5_000)],
    ];
    const parts = new Map<string, number[]>(PARTS.map(([k]) => [k, []]));
    for (let c = 0; c < opts.trials * CALLS_PER_TRIAL; c++)
      for (const [k, call] of PARTS) {
        const t0 = performance.now();
        await call();
        parts.get(k)!.push(performance.now() - t0);
      }

    const cli = new Map<string, number[]>([['tandem --version', []], ...READS.filter((r) => r.cli).map((r): [string, number[]] => [`tandem ${r.cli!.join(' ')}`, []])]);
    const env = { ...process.env, TANDEM_API: api, TANDEM_API_CA_FILE: status.ca } as Record<string, string>;
    delete env['TANDEM_PASSWORD'];
    for (let i = 0; i < (opts.cliCalls ?? 5); i++) {
      for (const [label, samples] of cli) {
        const args = label.split(' ').slice(1);
        const t0 = performance.now();
        const r = await execa('node', [TANDEM, ...args], { env, extendEnv: false, reject: false, timeout: 60_000 });
        samples.push(performance.now() - t0);
        if (r.exitCode !== 0) throw new Error(`${label}: exit ${r.exitCode}: ${r.stderr}`);
      }
    }
    load.after = await loadAverage();

    const restTimings = Object.fromEntries([...rest].map(([k, v]) => [k, timing(v)]));
    const worst = Math.max(...Object.values(restTimings).map((t) => t.medianMs));
    return {
      benchmark: `api --pools ${opts.pools}`,
      unit: 'ms',
      trials: opts.trials,
      samples: Object.values(restTimings).map((t) => t.medianMs),
      median: worst,
      max: Math.max(...Object.values(restTimings).map((t) => t.maxMs)),
      target: { median: TARGET_MS },
      met: worst < TARGET_MS,
      pools: opts.pools,
      activityEntries: entries,
      rest: restTimings,
      parts: Object.fromEntries([...parts].map(([k, v]) => [k, timing(v)])),
      cli: Object.fromEntries([...cli].map(([k, v]) => [k, timing(v)])),
      load,
    };
  } finally {
    await nc.close();
  }
}
