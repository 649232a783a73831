import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Testbed, type TestbedStatus } from '@tandem/testbed';
import { sleep, waitFor } from '@tandem/util';
import { PrivateDockerd, mustRun, run, type RunResult } from './docker';
import { deployPrerequisites } from './prerequisites';

/**
 * The production deployment, deployed: the image built from docker/Dockerfile on a base made
 * here (no image registry is reachable), then compose.yaml run on two testbed storage nodes and
 * compose.witness.yaml on its witness — each node its own private Docker daemon in its own
 * network namespace, every container on the node's host network — the cluster formed with the
 * CLI of the image from inside a container, a pool attached with a floating IP, moved, its
 * node's services recreated but host-executor (the pool stays), and its owner's containers
 * killed (the pool fails over). Everything is torn down at the end, the daemons with their data.
 *
 * TANDEM_DEPLOY_IMAGES=FILE: the images are loaded from FILE when it exists, else built and
 * saved there (so a second run needs no build); TANDEM_DEPLOY_BUILD_ONLY=1 stops after the build.
 */
const ROOT = resolve(__dirname, '..', '..', '..');
const WORK = process.env['TANDEM_DEPLOY_DIR'] ?? '/var/lib/tandem-deploy-test';
const RUN = '/run/tandem-deploy';
const IMAGES = ['tandem:test', 'tandem-nats:test', 'tandem-postgres:test'];
const VIP = '10.77.3.50';
const NODES = ['node-a', 'node-b'] as const;
const MACHINES = [...NODES, 'witness'] as const;
type Machine = (typeof MACHINES)[number];

const timings: Record<string, number> = {};
const t0 = Date.now();
const log = (l: string) => process.stderr.write(`[deploy] ${l}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = Date.now() - t;
    log(`${name}: ${secs(timings[name])}`);
  }
}

const skip = deployPrerequisites();

describe('deployment: the image and docker compose on two storage nodes and a witness (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`[testbed] ${l}\n`) });
  let status: TestbedStatus;
  const daemons = new Map<Machine, PrivateDockerd>();
  let imagesTar = '';
  let testbedUp = false;

  const dir = (m: Machine) => join(WORK, m, 'install');
  const spec = (m: Machine) => status.nodes.find((n) => n.name === m)!;
  const composeFiles = (m: Machine) => (m === 'witness' ? ['-f', 'compose.witness.yaml'] : ['-f', 'compose.yaml', '-f', 'compose.test.yaml']);
  const compose = (m: Machine, args: readonly string[], timeout = 300_000): Promise<RunResult> =>
    run('docker-compose', ['-p', 'tandem', ...composeFiles(m), ...args], {
      cwd: dir(m),
      env: { ...process.env, DOCKER_HOST: daemons.get(m)!.host, COMPOSE_HTTP_TIMEOUT: '300' },
      timeout,
    });
  /** The image's CLI in the node's api-gateway container, with the admin password of its secret. */
  const tandem = (m: Machine, args: readonly string[]) =>
    compose(
      m,
      ['exec', '-T', 'api-gateway', 'sh', '-c', 'TANDEM_PASSWORD="$(cat /run/secrets/admin-password)" exec tandem --password-file /run/secrets/admin-password "$@"', 'tandem', ...args],
      120_000,
    );
  const mustTandem = async (m: Machine, args: readonly string[]) => {
    const r = await tandem(m, args);
    assert.equal(r.code, 0, `tandem ${args.join(' ')} on ${m}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const imported = async (m: Machine) => (await compose(m, ['exec', '-T', 'host-executor', 'zpool', 'list', '-H', '-o', 'name'], 30_000)).stdout.split('\n').includes('tank');
  const vipOn = async (m: Machine) => (await run('ip', ['-n', spec(m).netns, '-o', 'addr', 'show', 'dev', 'cli0'])).stdout.includes(` ${VIP}/`);
  const clientReaches = async () => (await tb.client(['ping', '-c', '1', '-W', '1', VIP], { timeoutMs: 5_000 })).exitCode === 0;
  /** The client reads the pool's file through the SMB share on the floating IP (a guest, a new connection). */
  const shareReads = async () => (await tb.client(['smbclient', '-N', `//${VIP}/files`, '-c', 'get hello.txt -'], { timeoutMs: 15_000 })).stdout.includes('hello from tank');
  /** The pool's record as a node's API shows it (its node and state). */
  const shown = async (m: Machine) => JSON.parse((await tandem(m, ['--json', 'pool', 'show', 'tank'])).stdout || '{}') as { node?: string | null; state?: string };

  before(async () => {
    if (skip) return;
    rmSync(WORK, { recursive: true, force: true });
    mkdirSync(WORK, { recursive: true });
    mkdirSync(RUN, { recursive: true });
  });

  after(async () => {
    if (skip) return;
    if (failed) {
      // what each machine ran, for the failure above
      for (const m of MACHINES) {
        if (!daemons.has(m) || !existsSync(dir(m))) continue;
        log(`${m}: docker-compose ps\n${(await compose(m, ['ps'], 60_000)).stdout}`);
        log(`${m}: the last lines of every service's log\n${(await compose(m, ['logs', '--no-color', '--tail', '25'], 60_000)).stdout}`);
      }
    }
    const t = Date.now();
    await Promise.all(MACHINES.filter((m) => daemons.has(m) && existsSync(dir(m))).map((m) => compose(m, ['down', '--volumes', '--timeout', '5'], 120_000).catch(() => undefined)));
    await Promise.all([...daemons.values()].map((d) => d.stop().catch((err: Error) => log(`stopping dockerd ${d.name}: ${err.message}`))));
    if (testbedUp) await tb.down();
    rmSync(WORK, { recursive: true, force: true });
    rmSync(RUN, { recursive: true, force: true });
    timings['teardown'] = Date.now() - t;
    log(`teardown: ${secs(timings['teardown'])}`);
    log(
      `timings: ${Object.entries(timings)
        .map(([k, v]) => `${k} ${secs(v)}`)
        .join(', ')}; whole run ${secs(Date.now() - t0)}`,
    );
  });

  /** One step of the deployment: after a step failed, the later ones are skipped, saying which. */
  let failed: string | undefined;
  const step = (name: string, fn: () => Promise<void>, opts: { needsTestbed?: boolean } = { needsTestbed: true }) =>
    test(name, async (t) => {
      // a machine that cannot run it: every step skipped, saying why
      if (skip) return t.skip(skip);
      if (opts.needsTestbed && process.env['TANDEM_DEPLOY_BUILD_ONLY'] === '1') return t.skip('TANDEM_DEPLOY_BUILD_ONLY=1');
      if (failed) return t.skip(`"${failed}" failed`);
      try {
        await fn();
      } catch (err) {
        failed = name;
        throw err;
      }
    });

  step(
    'the image builds from docker/Dockerfile on the test base (BASE_IMAGE), and the NATS and Postgres images on the same base',
    async () => {
      const saved = process.env['TANDEM_DEPLOY_IMAGES'];
      imagesTar = saved ?? join(WORK, 'images.tar');
      if (saved && existsSync(saved)) {
        log(`images from ${saved} (TANDEM_DEPLOY_IMAGES), not built`);
        return;
      }
      const base = await timed('base root filesystem (mmdebstrap, cached)', async () => (await mustRun('bash', [join(ROOT, 'docker', 'test', 'build-base')], { timeout: 900_000 })).stdout.trim());
      const builder = new PrivateDockerd('builder', join(WORK, 'builder', 'docker'), RUN);
      daemons.set('builder' as Machine, builder);
      await builder.start();
      const docker = async (args: readonly string[], timeout = 900_000) => {
        const r = await builder.docker(args, { timeout, cwd: ROOT });
        assert.equal(r.code, 0, `docker ${args.join(' ')}:\n${r.stderr.slice(-4000)}${r.stdout.slice(-4000)}`);
        return r.stdout;
      };
      await timed('docker import of the base', () => docker(['import', base, 'tandem-base:test']));
      await timed('image build (tandem)', () =>
        docker(['build', '--network', 'host', '--build-arg', 'BASE_IMAGE=tandem-base:test', '--build-arg', 'ZFS_PACKAGE=zfs-fuse', '-t', 'tandem:test', '-f', 'docker/Dockerfile', '.']),
      );
      await timed('image build (nats, postgres)', async () => {
        for (const what of ['nats', 'postgres']) {
          await docker(['build', '--build-arg', 'BASE_IMAGE=tandem-base:test', '-t', `tandem-${what}:test`, '-f', `docker/test/${what}.Dockerfile`, 'docker/test']);
        }
      });
      // what the image is: its labels, its user, the CLI on the PATH
      const inspect = JSON.parse(await docker(['image', 'inspect', 'tandem:test'])) as Array<{ Config: { User: string; Labels: Record<string, string> } }>;
      assert.equal(inspect[0]!.Config.User, 'tandem');
      assert.equal(inspect[0]!.Config.Labels['org.opencontainers.image.title'], 'Tandem');
      const help = await docker(['run', '--rm', '--network', 'none', '--entrypoint', 'tandem', 'tandem:test', '--help']);
      assert.match(help, /cluster/);
      await timed('docker save', () => docker(['save', '-o', imagesTar, ...IMAGES]));
      await builder.stop();
      daemons.delete('builder' as Machine);
      log(`images: ${(statSync(imagesTar).size / 2 ** 20).toFixed(0)} MiB`);
    },
    { needsTestbed: false },
  );

  step('each node its own dockerd in its namespaces; compose.yaml up on both storage nodes, compose.witness.yaml on the witness', async () => {
    status = await timed('testbed up (bare)', async () => {
      testbedUp = true;
      return tb.up({ nodes: 2, bare: true });
    });
    await timed('dockerds started, images loaded', () =>
      Promise.all(
        MACHINES.map(async (m) => {
          const s = spec(m);
          // a storage node's mount namespace too: its own /etc/hostid and /run/zfs, the others' disks hidden
          const ns = [`--net=/run/netns/${s.netns}`, ...(s.role === 'storage' ? [`--mount=/run/tandem-testbed/ns/${m}.mnt`] : [])];
          const d = new PrivateDockerd(m, join(WORK, m, 'docker'), RUN, ns);
          daemons.set(m, d);
          await d.start();
          const r = await d.docker(['load', '-q', '-i', imagesTar], { timeout: 600_000 });
          assert.equal(r.code, 0, `docker load on ${m}: ${r.stderr}`);
        }),
      ),
    );
    // a container on the node's host network sees exactly that node's interfaces
    const links = await daemons.get('node-a')!.docker(['run', '--rm', '--network', 'host', '--entrypoint', 'ip', 'tandem:test', '-o', 'addr', 'show']);
    assert.match(links.stdout, /hb0 .*10\.77\.1\.11\//);
    assert.doesNotMatch(links.stdout, /10\.77\.1\.12\//);

    await timed('install files and secrets', () => install());
    await timed('compose up (witness, then both nodes)', async () => {
      const w = await compose('witness', ['up', '-d']);
      assert.equal(w.code, 0, `witness: ${w.stderr}`);
      const ups = await Promise.all(NODES.map((m) => compose(m, ['up', '-d'], 600_000)));
      for (const [i, r] of ups.entries()) assert.equal(r.code, 0, `compose up on ${NODES[i]}: ${r.stderr}${r.stdout}\n${(await compose(NODES[i]!, ['logs', '--tail', '30'])).stdout}`);
    });
    for (const m of NODES) {
      // up -d returns once the last services are started; their health checks pass soon after
      const services = ['nats', 'postgres', 'host-executor', 'heartbeat', 'resource-manager', 'replication-scheduler', 'api-gateway'];
      await timed(`${m}: every service healthy`, () =>
        waitFor(
          async () => {
            const ps = (await compose(m, ['ps'])).stdout;
            return services.every((svc) => new RegExp(`tandem_${svc}_1 .*Up \\(healthy\\)`).test(ps)) || Promise.reject(new Error(ps));
          },
          { timeoutMs: 120_000, intervalMs: 1_000, what: `${m}: every service Up (healthy)` },
        ),
      );
      // every Tandem service but host-executor and heartbeat runs as the image's user
      for (const svc of ['resource-manager', 'replication-scheduler', 'api-gateway']) {
        assert.equal((await compose(m, ['exec', '-T', svc, 'id', '-u'])).stdout.trim(), '10001', `${m}: ${svc} runs as 10001`);
      }
      const hb = (await compose(m, ['exec', '-T', 'heartbeat', 'grep', 'CapEff', '/proc/1/status'])).stdout;
      assert.match(hb, /CapEff:\s+0000000000800000/, `${m}: heartbeat has CAP_SYS_NICE alone: ${hb}`);
    }
  });

  step('the cluster is formed with the CLI from inside the api-gateway containers; a pool is attached with a floating IP', async () => {
    await timed('cluster create and join', async () => {
      await mustTandem('node-a', ['cluster', 'create', '--heartbeat-interface', 'hb0']);
      const logs = (await compose('node-a', ['logs', 'api-gateway'])).stdout;
      const fp = /API certificate SHA-256 ([0-9A-F:]+)/.exec(logs)?.[1];
      assert.ok(fp, `node-a's gateway logs its certificate's fingerprint:\n${logs.slice(-2000)}`);
      await mustTandem('node-b', ['cluster', 'join', '--peer', spec('node-a').addresses.heartbeat!, '--peer-fingerprint', fp]);
      await waitFor(async () => (await tandem('node-a', ['cluster', 'status'])).stdout.match(/node-[ab].*online/g)?.length === 2, {
        timeoutMs: 60_000,
        intervalMs: 1_000,
        what: 'both nodes online in cluster status',
      });
    });
    await timed('pool attach', async () => {
      // the pool, made on the shared JBOD by node-a's ZFS, exported: importable by either node
      for (let i = 0; i < 2; i++) await mustRun('truncate', ['-s', '128M', join(status.jbod, `tank-${i}`)]);
      const made = await compose('node-a', ['exec', '-T', 'host-executor', 'sh', '-c', 'zpool create -m /mnt/tank tank mirror /jbod/tank-0 /jbod/tank-1 && zpool export tank']);
      assert.equal(made.code, 0, made.stderr);
      await mustTandem('node-a', ['pool', 'attach', 'tank', '--node', 'node-a', '--vip', `cli0:${VIP}/24`, '--share', 'files:smb', '--share-guest', 'files']);
      await waitFor(async () => (await imported('node-a')) && (await vipOn('node-a')) && (await clientReaches()), { timeoutMs: 60_000, intervalMs: 500, what: 'tank served by node-a' });
      const wrote = await compose('node-a', ['exec', '-T', 'host-executor', 'sh', '-c', 'echo "hello from tank" > /mnt/tank/hello.txt && sync']);
      assert.equal(wrote.code, 0, wrote.stderr);
      await waitFor(shareReads, { timeoutMs: 30_000, intervalMs: 1_000, what: 'the client reading hello.txt through the SMB share on the floating IP' });
      assert.equal(await imported('node-b'), false);
    });
    assert.match(await mustTandem('node-b', ['cluster', 'status']), /tank/, 'node-b knows the pool');
  });

  step('recreating every service of the owner but host-executor leaves the pool, its floating IP and its share up', async () => {
    // each look that found something gone, saying what and when (a failure names it)
    const lost: string[] = [];
    let watching = true;
    const t0 = Date.now();
    const watch = (async () => {
      while (watching) {
        const gone = [!(await imported('node-a')) && 'pool not imported', !(await vipOn('node-a')) && 'IP not up', !(await shareReads()) && 'share not read'].filter(Boolean);
        if (gone.length) lost.push(`${secs(Date.now() - t0)}: ${gone.join(', ')}`);
        await sleep(300);
      }
    })();
    try {
      await timed('recreate resource-manager, replication-scheduler, api-gateway', async () => {
        const r = await compose('node-a', ['up', '-d', '--no-deps', '--force-recreate', 'resource-manager', 'replication-scheduler', 'api-gateway']);
        assert.equal(r.code, 0, r.stderr);
        await waitFor(async () => (await compose('node-a', ['ps'])).stdout.match(/Up \(healthy\)/g)?.length === 7, { timeoutMs: 120_000, intervalMs: 1_000, what: 'node-a healthy again' });
      });
    } finally {
      watching = false;
      await watch;
    }
    if (lost.length) log(`node-a's host-executor meanwhile:\n${(await compose('node-a', ['logs', '--no-color', '--tail', '60', 'host-executor'], 60_000)).stdout}`);
    assert.deepEqual(lost, [], 'the pool, its IP or its share went away on node-a while services were recreated');
    assert.ok(await shareReads());
  });

  step('the pool moves to node-b', async () => {
    await timed('pool move', async () => {
      await mustTandem('node-a', ['pool', 'move', 'tank', '--to', 'node-b']);
      await waitFor(async () => (await imported('node-b')) && (await vipOn('node-b')) && (await shareReads()), { timeoutMs: 60_000, intervalMs: 500, what: 'tank served by node-b' });
    });
    assert.equal(await imported('node-a'), false);
    assert.equal(await vipOn('node-a'), false);
  });

  step("the owner's containers killed (docker kill): the pool fails over to node-a", async () => {
    const b = daemons.get('node-b')!;
    const ids = (await b.docker(['ps', '-q'])).stdout.split('\n').filter(Boolean);
    assert.equal(ids.length, 7);
    const killedAt = Date.now();
    const k = await b.docker(['kill', ...ids]);
    assert.equal(k.code, 0, k.stderr);
    await waitFor(async () => (await imported('node-a')) && (await vipOn('node-a')), { timeoutMs: 90_000, intervalMs: 250, what: 'tank imported and its IP up on node-a' });
    timings['failover (docker kill to pool and IP up on the peer)'] = Date.now() - killedAt;
    log(`failover: ${secs(Date.now() - killedAt)}`);
    // the killed node's containers took its ZFS with them; its namespace keeps the address it had
    // (no process is left to take it down), as a host whose containers died but which stayed up
    const left = await vipOn('node-b');
    log(`the floating IP ${left ? 'is still' : 'is no longer'} configured in node-b's namespace`);
    await waitFor(() => clientReaches(), { timeoutMs: 30_000, intervalMs: 500, what: 'the client reaches the floating IP' });
    // the file written before, through the share node-a serves now
    await waitFor(shareReads, { timeoutMs: 30_000, intervalMs: 1_000, what: "the client reading hello.txt through node-a's share" });
    // node-b's resource-manager was the active one: node-a's takes over (a standby waits out the lease) and answers
    await waitFor(async () => (await shown('node-a')).node === 'node-a', { timeoutMs: 60_000, intervalMs: 1_000, what: "node-a's API shows tank on node-a" });
    // the resource-manager that carried it out says how long each part took
    const said = await waitFor(async () => /failover: pool tank serving on node-a .*/.exec((await compose('node-a', ['logs', '--no-color', 'resource-manager'], 60_000)).stdout)?.[0], {
      timeoutMs: 30_000,
      intervalMs: 1_000,
      what: "node-a's resource-manager logging the failover",
    });
    log(said);
  });

  /** The operator's files on each machine, as the README's install makes them. */
  async function install(): Promise<void> {
    const a = daemons.get('node-a')!;
    for (const m of MACHINES) {
      const d = dir(m);
      mkdirSync(join(d, 'secrets', 'nats-tls'), { recursive: true });
      mkdirSync(join(d, 'deploy'), { recursive: true });
      for (const f of ['compose.yaml', 'compose.witness.yaml']) copyFileSync(join(ROOT, f), join(d, f));
      copyFileSync(join(ROOT, 'test', 'deploy', 'compose.test.yaml'), join(d, 'compose.test.yaml'));
      cpSync(join(ROOT, 'deploy'), join(d, 'deploy'), { recursive: true });
    }
    // the image's CLI makes every NATS identity and certificate (tandem nats keys|certs|authorization)
    const cli = (d: PrivateDockerd, mount: string, args: readonly string[]) =>
      d.docker(['run', '--rm', '--network', 'none', '--user', 'root', '--entrypoint', 'tandem', '-v', `${mount}:/secrets`, 'tandem:test', ...args]).then((r) => {
        assert.equal(r.code, 0, `tandem ${args.join(' ')}: ${r.stderr}${r.stdout}`);
        return r.stdout;
      });
    const keys: string[] = [];
    for (const m of NODES) {
      await cli(daemons.get(m)!, join(dir(m), 'secrets'), ['nats', 'keys', '--node', m, '--dir', '/secrets/nats']);
      copyFileSync(join(dir(m), 'secrets', 'nats', 'public-keys.json'), join(dir('node-a'), 'secrets', `${m}-public-keys.json`));
      keys.push(`/secrets/${m}-public-keys.json`);
    }
    const authorization = await cli(a, join(dir('node-a'), 'secrets'), ['nats', 'authorization', ...keys]);
    const ca = join(WORK, 'ca');
    for (const m of MACHINES) {
      const s = spec(m);
      await cli(a, ca, ['nats', 'certs', '--node', m, '--dir', '/secrets', '--address', [s.addresses.admin, s.addresses.heartbeat].filter(Boolean).join(',')]);
    }
    // the routes' secret as the README makes it (one that reads as a number would stop every server)
    const routeSecret = (await cli(a, join(dir('node-a'), 'secrets'), ['nats', 'route-secret'])).trim();
    const adminPassword = randomBytes(12).toString('hex');
    const clusterSecret = randomBytes(24).toString('base64');
    const tokenSecret = randomBytes(24).toString('base64');
    for (const m of MACHINES) {
      const d = dir(m);
      const sec = join(d, 'secrets');
      mkdirSync(join(sec, 'nats'), { recursive: true });
      writeFileSync(join(sec, 'nats', 'authorization.conf'), authorization);
      for (const f of ['ca.pem', `${m}.pem`, `${m}.key`]) copyFileSync(join(ca, f), join(sec, 'nats-tls', f));
      const s = spec(m);
      const routes = MACHINES.filter((o) => o !== m).map((o) => `nats://route:${routeSecret}@${spec(o).addresses.admin}:6222`);
      const env: Record<string, string> = {
        TANDEM_ADMIN_IP: s.addresses.admin!,
        TANDEM_NATS_ROUTES: routes.join(','),
        TANDEM_NATS_ROUTE_SECRET: routeSecret,
        TANDEM_NATS_IMAGE: 'tandem-nats:test',
      };
      if (m !== 'witness') {
        const dbPassword = randomBytes(12).toString('hex');
        writeFileSync(join(sec, 'cluster-secret'), `${clusterSecret}\n`);
        writeFileSync(join(sec, 'token-secret'), `${tokenSecret}\n`);
        writeFileSync(join(sec, 'admin-password'), `${adminPassword}\n`);
        writeFileSync(join(sec, 'db-password'), `${dbPassword}\n`);
        writeFileSync(join(sec, 'database-url'), `postgres://tandem:${dbPassword}@127.0.0.1:5432/tandem\n`);
        const stateDir = join(WORK, m, 'state');
        mkdirSync(stateDir, { recursive: true });
        Object.assign(env, {
          TANDEM_NODE_ID: m,
          TANDEM_API_BIND: ['127.0.0.1', s.addresses.admin, s.addresses.heartbeat].join(','),
          TANDEM_VERSION: 'test',
          TANDEM_POSTGRES_IMAGE: 'tandem-postgres:test',
          TANDEM_STATE_HOST_DIR: stateDir,
          TANDEM_DEVICE_DIR: '/jbod',
          TANDEM_TEST_JBOD: status.jbod,
          TANDEM_LOCAL_DEVICE_DIR: '/var/lib/tandem/disks',
          TANDEM_HARD_FENCE: 'kill-zfs-daemon',
          TANDEM_ZFS_DAEMON_PIDFILE: '/run/zfs/zfs-fuse.pid',
        });
      }
      writeFileSync(
        join(d, '.env'),
        Object.entries(env)
          .map(([k, v]) => `${k}=${v}\n`)
          .join(''),
      );
      // readable by the services' group (10001) and no one else; the database's password by its server too
      chownAll(sec, 0, 10001);
      if (m !== 'witness') chmodSync(join(sec, 'db-password'), 0o644);
    }
  }
});

function chownAll(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  const st = statSync(path);
  if (st.isDirectory()) {
    chmodSync(path, 0o750);
    for (const e of readdirSync(path)) chownAll(join(path, e), uid, gid);
  } else chmodSync(path, 0o640);
}
