import * as fs from 'node:fs';
import { TestbedError } from './errors';
import { NATS_CLIENT_PORT, NATS_CLUSTER_PORT, NATS_HTTP_PORT, NodeSpec, Paths, runsNats } from './layout';
import { killNamedInNetns, nsenterArgs } from './namespaces';
import { nodeHttpGet } from './probe';
import { spawnDaemon, waitFor } from './proc';
import { daemonExit } from './zfs-daemon';
import { natsAuthorization, natsServerConfig } from '@tandem/contracts';
import { routeSecret, testbedNatsCertificate, testbedNatsUsers } from './nats-keys';

const READY_TIMEOUT_MS = 30_000;
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
export async function ensureNats(paths: Paths, spec: NodeSpec, all: readonly NodeSpec[], env: Record<string, string>): Promise<boolean> {
  fs.mkdirSync(paths.natsStore(spec.name), { recursive: true });
  const conf = natsConfig(paths, spec, all, await testbedNatsCertificate(paths, spec));
  const confFile = paths.natsConfig(spec.name);
  const same = fs.existsSync(confFile) && fs.readFileSync(confFile, 'utf8') === conf;
  if (same && (await natsHealthy(spec))) return false;
  fs.writeFileSync(confFile, conf, { mode: 0o600 }); // it holds the routes' secret
  fs.chmodSync(confFile, 0o600);
  await killNamedInNetns(spec.netns, ['nats-server']);
  const logFile = paths.logFile(spec.name, 'nats');
  // the cluster's messaging carries heartbeats and leases: it runs at a raised priority, like the failure detector
  const d = spawnDaemon('nsenter', [...nsenterArgs(paths, spec), 'nice', '-n', '-10', 'nats-server', '-c', confFile], { logFile, env });
  await waitFor(`${spec.name}: nats-server`, () => natsHealthy(spec), {
    timeoutMs: READY_TIMEOUT_MS,
    intervalMs: 100,
    abort: daemonExit(d, `${spec.name}: nats-server`, logFile),
    hint: `see ${logFile}`,
  });
  return true;
}

async function metaLeader(spec: NodeSpec): Promise<string | null> {
  const res = await nodeHttpGet(spec, NATS_HTTP_PORT, '/jsz');
  if (res === null || res.status !== 200) return null;
  try {
    const body = JSON.parse(res.body) as { meta_cluster?: { leader?: string } };
    const leader = body.meta_cluster?.leader;
    return typeof leader === 'string' && leader.length > 0 ? leader : null;
  } catch {
    return null;
  }
}

/** Waits until every given server reports the same JetStream meta leader; returns its name. */
export async function waitForMetaLeader(servers: readonly NodeSpec[], paths: Paths): Promise<string> {
  let leader: string | null = null;
  await waitFor(
    'NATS JetStream meta leader',
    async () => {
      const leaders = await Promise.all(servers.map((s) => metaLeader(s)));
      leader = leaders[0] ?? null;
      return leader !== null && leaders.every((l) => l === leader);
    },
    {
      timeoutMs: LEADER_TIMEOUT_MS,
      intervalMs: 250,
      hint: `check the cluster routes in ${servers.map((s) => paths.logFile(s.name, 'nats')).join(', ')}`,
    },
  );
  if (leader === null) throw new TestbedError('TIMEOUT', 'NATS JetStream has no meta leader');
  return leader;
}
