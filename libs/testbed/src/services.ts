import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ServiceName } from '@tandem/contracts';
import { TestbedError } from './errors';
import { API_PORT, NodeSpec, PG_PORT, NATS_CLIENT_PORT, Paths, SERVICES } from './layout';
import { nsenterArgs, pidInNetns } from './namespaces';
import { serviceSeedFile, testbedNatsCaFile, testbedNodeCertificate } from './nats-keys';
import { secretFile } from './secret-files';
import { nodeHttpGet, testbedHttps } from './probe';
import { killPid, readPidFile, sleep, spawnDaemon, tail, waitFor } from './proc';

const READY_TIMEOUT_MS = 60_000;

/** The workspace root: the nearest directory above this file that holds package.json. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'tools', 'register.js'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(__dirname, '../../../..');
    dir = parent;
  }
}

export function serviceMain(repo: string, app: string): string {
  return path.join(repo, 'dist', 'apps', app, 'src', 'main.js');
}

/** The testbed's admin password (the API's mutating calls need it or a token made with it). */
export const TESTBED_ADMIN_PASSWORD = 'tandem-admin';

const randomSecret = () => randomBytes(24).toString('hex');

/** Each service gets only the secrets it uses (the files' paths, `<NAME>_FILE`, never the values): the heartbeat its signing secret, the api-gateway the admin password and the token secret. */
function secretsFor(paths: Paths, app: string): Record<string, string> {
  if (app === 'heartbeat') return { TANDEM_CLUSTER_SECRET_FILE: secretFile(paths.root, 'cluster-secret', randomSecret) };
  if (app === 'api-gateway') {
    return {
      TANDEM_ADMIN_PASSWORD_FILE: secretFile(paths.root, 'admin-password', () => `${TESTBED_ADMIN_PASSWORD}\n`),
      TANDEM_TOKEN_SECRET_FILE: secretFile(paths.root, 'token-secret', randomSecret),
    };
  }
  return {};
}

const apiCertificateEnv = (c: { cert: string; key: string }) => ({ TANDEM_API_CERT_FILE: c.cert, TANDEM_API_KEY_FILE: c.key });

export function serviceEnv(paths: Paths, spec: NodeSpec, storageNames: readonly string[], app: ServiceName, port: number): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    TANDEM_NODE_ID: spec.name,
    TANDEM_CLUSTER_ID: 'testbed',
    TANDEM_NATS_URL: `nats://127.0.0.1:${NATS_CLIENT_PORT}`,
    TANDEM_HEALTH_PORT: String(port),
    TANDEM_STATE_DIR: paths.stateDir(spec.name),
    TANDEM_DATABASE_URL: `postgres://postgres@127.0.0.1:${PG_PORT}/tandem`,
    TANDEM_DEVICE_DIR: paths.jbod,
    // the node's own disks (replicated pools): no other node sees them
    TANDEM_LOCAL_DEVICE_DIR: paths.localDeviceDir(spec.name),
    // the harder fence of a node that cannot release a pool in time: its own ZFS daemon dies
    TANDEM_HARD_FENCE: 'kill-zfs-daemon',
    // a test cluster: its pools and datasets are made through host-executor (tests, the demo)
    TANDEM_ENABLE_TEST_OPS: '1',
    TANDEM_ZFS_DAEMON_PIDFILE: paths.zfsPid(spec.name),
    // the operator's per-pool hooks of this node (the machine's /etc is every node's)
    TANDEM_HOOKS_DIR: paths.hooksDir(spec.name),
    ...secretsFor(paths, app),
    // the API on the admin and heartbeat networks (and loopback), never the client network
    // HTTPS with the node's certificate of the testbed's CA (as an operator gives one); loopback stays plain
    ...(app === 'api-gateway' ? apiCertificateEnv(testbedNodeCertificate(paths.root, spec.name)) : {}),
    ...(app === 'api-gateway' ? { TANDEM_API_BIND: ['127.0.0.1', spec.addresses.admin, spec.addresses.heartbeat].filter((a): a is string => a !== null).join(',') } : {}),
    // the other services' health and metrics ports: loopback and the admin network only
    TANDEM_HEALTH_BIND: ['127.0.0.1', spec.addresses.admin].filter((a): a is string => a !== null).join(','),
    // its own NATS identity: the servers know its public key and what it may do
    TANDEM_NATS_SEED_FILE: serviceSeedFile(paths, app, spec.name),
    // its server's certificate is checked against the testbed's CA
    TANDEM_NATS_CA_FILE: testbedNatsCaFile(paths.root),
    NO_COLOR: '1',
  };
  // passed through from whoever brings the testbed up (tests that need a shorter hold-down or hook timeout)
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'TANDEM_FAILOVER_HOLD_DOWN_MS', 'TANDEM_HOOK_TIMEOUT_MS']) {
    const v = process.env[name];
    if (v) env[name] = v;
  }
  return env;
}

async function serviceReady(paths: Paths, spec: NodeSpec, port: number): Promise<boolean> {
  // the API is HTTPS on the admin address (plain on the node's loopback only)
  const res = await nodeHttpGet(spec, port, '/health/ready', undefined, port === API_PORT ? testbedHttps(paths.root) : undefined);
  return res !== null && res.status === 200;
}

/**
 * Starts the five Node services of a storage node (each unless it already answers ready) and
 * waits until all are ready. Services whose main.js is missing are skipped with a warning.
 */
export async function ensureServices(paths: Paths, spec: NodeSpec, storageNames: readonly string[], log: (l: string) => void): Promise<void> {
  const repo = repoRoot();
  const register = path.join(repo, 'tools', 'register.js');
  fs.mkdirSync(path.dirname(paths.servicePid(spec.name, 'x')), { recursive: true });
  await Promise.all(
    SERVICES.map(async ({ app, port }) => {
      const main = serviceMain(repo, app);
      if (!fs.existsSync(main)) {
        log(`${spec.name}: WARNING ${app} not started: ${main} does not exist (build it with \`npm run build\`)`);
        return;
      }
      if (await serviceReady(paths, spec, port)) return;
      const t0 = Date.now();
      const pidFile = paths.servicePid(spec.name, app);
      const old = readPidFile(pidFile);
      if (old !== null && pidInNetns(old, spec)) {
        killPid(old, 'SIGKILL');
        await sleep(100);
      }
      const logFile = paths.logFile(spec.name, app);
      const d = spawnDaemon('nsenter', [...nsenterArgs(paths, spec, repo), process.execPath, '-r', register, main], { logFile, env: serviceEnv(paths, spec, storageNames, app, port), cwd: repo });
      fs.writeFileSync(pidFile, `${d.pid}\n`);
      const failed = (why: string) => new TestbedError('SERVICE_NOT_READY', `${spec.name}: ${app} ${why}; log ${logFile}, last lines:\n${tail(logFile, 20)}`);
      const abort = d.exited.then((code): never => {
        throw failed(`exited (${code === null ? 'killed by a signal' : `exit ${code}`}) before it was ready`);
      });
      try {
        await waitFor(`${spec.name}: ${app}`, () => serviceReady(paths, spec, port), {
          timeoutMs: READY_TIMEOUT_MS,
          intervalMs: 200,
          abort,
        });
      } catch (err) {
        if (err instanceof TestbedError && err.code === 'TIMEOUT') {
          throw failed(`did not answer GET ${port === API_PORT ? 'https' : 'http'}://${spec.addresses.admin}:${port}/health/ready with 200 within ${READY_TIMEOUT_MS / 1000} s`);
        }
        throw err;
      }
      log(`${spec.name}: ${app} ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }),
  );
}
