import * as fs from 'node:fs';
import { TestbedError } from './errors';
import { NATS_CLIENT_PORT, NATS_CLUSTER_PORT, NATS_HTTP_PORT, NodeSpec, Paths, runsNats } from './layout';
import { killNamedInNetns, nsenterArgs } from './namespaces';
import { nodeHttpGet } from './probe';
import { raiseDaemonAutogroup, spawnDaemon, waitFor } from './proc';
import { daemonExit } from './zfs-daemon';
import { natsAuthorization, natsServerConfig } from '@tandem/contracts';
import { routeSecret, testbedNatsCertificate, testbedNatsUsers } from './nats-keys';

const READY_TIMEOUT_MS = 30_000;
/** The nice level of the testbed's NATS servers: the timing-critical services' (service-kit's TANDEM_NICE default). */
const NATS_NICE = -15;
const LEADER_TIMEOUT_MS = 45_000;

export function natsConfig(paths: Paths, spec: NodeSpec, all: readonly NodeSpec[], tls: { ca: string; cert: string; key: string }): string {
  const secret = routeSecret(paths);
  const storage = all.filter((s) => s.role === 'storage').map((s) => s.name);
  // production's generator (deploy/nats.conf), with the testbed's addresses, files and users in place of its variables
  return natsServerConfig({
    header: ['written by the Tandem testbed'],
    serverName: spec.name,
    client: { host: '0.0.0.0', port: NATS_CLIENT_PORT },
    http: { host: '0.0.0.0', port: NATS_HTTP_PORT },
    pidFile: paths.natsPid(spec.name),
    witness: spec.role === 'witness',
    jetstream: { storeDir: paths.natsStore(spec.name), maxMemory: '256MB', maxFile: '4GB' },
    authorization: { block: natsAuthorization(testbedNatsUsers(paths, storage)) },
    tls,
    cluster: {
      host: spec.addresses.admin!,
      port: NATS_CLUSTER_PORT,
      routeSecret: secret,
      routes: all.filter((s) => runsNats(s) && s.name !== spec.name).map((s) => `nats://route:${secret}@${s.addresses.admin}:${NATS_CLUSTER_PORT}`),
    },
  });
}

export async function natsHealthy(spec: NodeSpec): Promise<boolean> {
  const res = await nodeHttpGet(spec, NATS_HTTP_PORT, '/healthz?js-enabled-only=true');
  return res !== null && res.status === 200;
}

/** Starts the node's nats-server if it does not answer; returns false when it was already healthy. */
export async function ensureNats(paths: Paths, spec: NodeSpec, all: readonly NodeSpec[], env: Record<string, string>, opts: { restart?: boolean } = {}): Promise<boolean> {
  fs.mkdirSync(paths.natsStore(spec.name), { recursive: true });
  const conf = natsConfig(paths, spec, all, await testbedNatsCertificate(paths, spec));
  const confFile = paths.natsConfig(spec.name);
  const same = fs.existsSync(confFile) && fs.readFileSync(confFile, 'utf8') === conf;
  if (same && !opts.restart && (await natsHealthy(spec))) return false;
  fs.writeFileSync(confFile, conf, { mode: 0o600 }); // it holds the routes' secret
  fs.chmodSync(confFile, 0o600);
  await killNamedInNetns(spec.netns, ['nats-server']);
  const logFile = paths.logFile(spec.name, 'nats');
  // the cluster's messaging carries heartbeats and leases: it runs at the failure detector's and
  // the fencer's raised priority, its session's autogroup too (it leads one: spawnDaemon detaches)
  const d = spawnDaemon('nsenter', [...nsenterArgs(paths, spec), 'nice', '-n', String(NATS_NICE), 'nats-server', '-c', confFile], { logFile, env });
  raiseDaemonAutogroup(d.pid, NATS_NICE);
  await waitFor(`${spec.name}: nats-server`, () => natsHealthy(spec), {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 100,
    abort: daemonExit(d, `${spec.name}: nats-server`, logFile),
    hint: `see ${logFile}`,
  });
  return true;
}

export interface MetaView {
  server: string;
  leader: string | null;
  /** Names of the servers it has a route to. */
  routes: string[];
}

async function metaView(spec: NodeSpec): Promise<MetaView> {
  const json = async <T>(path: string): Promise<T | null> => {
    const res = await nodeHttpGet(spec, NATS_HTTP_PORT, path);
    if (res === null || res.status !== 200) return null;
    try {
      return JSON.parse(res.body) as T;
    } catch {
      return null;
    }
  };
  const [jsz, routez] = await Promise.all([json<{ meta_cluster?: { leader?: string } }>('/jsz'), json<{ routes?: Array<{ remote_name?: string }> }>('/routez')]);
  const leader = jsz?.meta_cluster?.leader;
  return {
    server: spec.name,
    leader: typeof leader === 'string' && leader.length > 0 ? leader : null,
    routes: [...new Set((routez?.routes ?? []).map((r) => r.remote_name ?? '?'))].sort(),
  };
}

function describeViews(views: readonly MetaView[]): string {
  return views.map((v) => `${v.server}: leader ${v.leader ?? 'none'}, routes to [${v.routes.join(', ')}]`).join('; ');
}

/** Servers that see no leader, or another leader than most, or lack a route to one of `expected`. */
export function leftOut(views: readonly MetaView[], expected: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const v of views) if (v.leader) counts.set(v.leader, (counts.get(v.leader) ?? 0) + 1);
  const majority = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
  return views.filter((v) => v.leader === null || v.leader !== majority || expected.some((e) => e !== v.server && !v.routes.includes(e))).map((v) => v.server);
}

/**
 * Waits until every given server reports the same JetStream meta leader; returns its name.
 * A fresh cluster of this nats-server (2.9) whose servers all start at once now and then settles
 * its duplicate routes into a cluster where one server is left out and no leader is agreed on. If
 * that lasts `restartAfterMs`, `restart` (when given) starts the servers left out again, once,
 * and says so; the error after that names what each server sees.
 */
export async function waitForMetaLeader(
  servers: readonly NodeSpec[],
  paths: Paths,
  opts: { restart?: (spec: NodeSpec) => Promise<void>; log?: (line: string) => void; restartAfterMs?: number; expectedRoutes?: readonly string[] } = {},
): Promise<string> {
  let leader: string | null = null;
  let views: MetaView[] = [];
  const agreed = async (): Promise<boolean> => {
    views = await Promise.all(servers.map((s) => metaView(s)));
    leader = views[0]?.leader ?? null;
    return leader !== null && views.every((v) => v.leader === leader);
  };
  const hint = () => `${describeViews(views)}; check the cluster routes in ${servers.map((s) => paths.logFile(s.name, 'nats')).join(', ')}`;
  const restart = opts.restart;
  try {
    await waitFor('NATS JetStream meta leader', agreed, { timeoutMs: restart ? (opts.restartAfterMs ?? 20_000) : LEADER_TIMEOUT_MS, intervalMs: 250 });
  } catch (err) {
    if (!restart) throw new TestbedError('TIMEOUT', `NATS JetStream meta leader: not agreed after ${LEADER_TIMEOUT_MS / 1000} s (${hint()})`);
    const again = leftOut(views, opts.expectedRoutes ?? servers.map((s) => s.name));
    const targets = servers.filter((s) => again.includes(s.name));
    opts.log?.(`NATS JetStream meta leader: not agreed (${describeViews(views)}); starting ${targets.map((s) => s.name).join(', ') || 'nothing'} again`);
    if (targets.length === 0) throw err;
    for (const s of targets) await restart(s);
    await waitFor('NATS JetStream meta leader', agreed, { timeoutMs: LEADER_TIMEOUT_MS, intervalMs: 250 }).catch(() => {
      throw new TestbedError('TIMEOUT', `NATS JetStream meta leader: not agreed after a restart (${hint()})`);
    });
  }
  if (leader === null) throw new TestbedError('TIMEOUT', 'NATS JetStream has no meta leader');
  return leader;
}
