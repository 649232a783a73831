import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { ensureNodeCertificate } from '@tandem/messaging';
import { authorizationFrom, makeNodeKeys, newRouteSecret } from './nats';

/**
 * The production deployment as its own tools read it: the NATS servers' configurations with the
 * block `tandem nats authorization` writes (nats-server -t), and compose.yaml with every secret
 * file in place, compose.witness.yaml, and the observability profile (docker-compose config; no
 * Docker engine is needed for that). test/deploy runs them for real.
 */
const ROOT = resolve(__dirname, '../../../..');

test('deploy: both NATS configurations with the generated authorization are valid to nats-server; compose.yaml resolves with its secrets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-deploy-'));
  try {
    mkdirSync(join(dir, 'deploy'));
    mkdirSync(join(dir, 'secrets'));
    // the servers' TLS files where the containers mount them (/etc/nats/tls), here under the test's directory
    for (const f of ['nats.conf', 'nats-witness.conf']) writeFileSync(join(dir, 'deploy', f), readFileSync(join(ROOT, 'deploy', f), 'utf8').replaceAll('/etc/nats/tls/', `${dir}/tls/`));
    for (const f of ['compose.yaml', 'compose.witness.yaml', '.env.example']) copyFileSync(join(ROOT, f), join(dir, f));
    makeNodeKeys('node-a', join(dir, 'secrets', 'nats'));
    makeNodeKeys('node-b', join(dir, 'node-b'));
    const block = authorizationFrom([join(dir, 'secrets', 'nats', 'public-keys.json'), join(dir, 'node-b', 'public-keys.json')]);
    writeFileSync(join(dir, 'deploy', 'authorization.conf'), block);
    writeFileSync(join(dir, 'secrets', 'nats', 'authorization.conf'), block);
    const tlsDir = join(dir, 'secrets', 'nats-tls');
    const certs = await ensureNodeCertificate(tlsDir, 'node-a', ['10.0.0.1']);
    mkdirSync(join(dir, 'tls'));
    copyFileSync(certs.files.ca, join(dir, 'tls', 'ca.pem'));
    copyFileSync(certs.files.cert, join(dir, 'tls', 'server.pem'));
    copyFileSync(certs.files.key, join(dir, 'tls', 'server.key'));
    for (const f of ['cluster-secret', 'token-secret', 'admin-password', 'db-password', 'database-url']) writeFileSync(join(dir, 'secrets', f), 'not-a-real-secret\n');
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TANDEM_NODE_ID: 'node-a',
      TANDEM_ADMIN_IP: '127.0.0.1',
      TANDEM_NATS_ROUTE_SECRET: newRouteSecret(),
      TANDEM_API_BIND: '127.0.0.1,10.0.0.1',
    };
    const routes = [2, 3].map((i) => `nats://route:${env.TANDEM_NATS_ROUTE_SECRET}@10.0.0.${i}:6222`).join(',');
    for (const conf of ['nats.conf', 'nats-witness.conf']) {
      const r = await execa('nats-server', ['-t', '-c', join(dir, 'deploy', conf), '--routes', routes], { env, extendEnv: false, reject: false, timeout: 10_000 });
      assert.equal(r.exitCode, 0, `${conf}: ${r.stderr}${r.stdout}`);
    }
    // why the route secret begins with a letter: a hex secret that reads as a number stops the server
    const numeric = await execa('nats-server', ['-t', '-c', join(dir, 'deploy', 'nats.conf')], {
      env: { ...env, TANDEM_NATS_ROUTE_SECRET: '0e51a2b3c4d5e6f708192a3b' },
      extendEnv: false,
      reject: false,
      timeout: 10_000,
    });
    assert.notEqual(numeric.exitCode, 0, 'nats-server reads a route secret of digits and an exponent');
    assert.match(numeric.stderr + numeric.stdout, /TANDEM_NATS_ROUTE_SECRET/);
    // a configuration that is wrong is told apart: a server key that is not there
    rmSync(join(dir, 'tls', 'server.key'));
    const noKey = await execa('nats-server', ['-t', '-c', join(dir, 'deploy', 'nats.conf')], { env, extendEnv: false, reject: false, timeout: 10_000 });
    assert.notEqual(noKey.exitCode, 0, 'nats-server starts without its TLS key');
    copyFileSync(certs.files.key, join(dir, 'tls', 'server.key'));
    // an authorization block with a broken key
    writeFileSync(join(dir, 'deploy', 'authorization.conf'), block.replace(/nkey: U/, 'nkey: X'));
    const broken = await execa('nats-server', ['-t', '-c', join(dir, 'deploy', 'nats.conf')], { env, extendEnv: false, reject: false, timeout: 10_000 });
    assert.notEqual(broken.exitCode, 0, 'nats-server takes a broken nkey');

    const compose = await execa('docker-compose', ['config'], {
      cwd: dir,
      env: { ...env, TANDEM_NATS_ROUTES: routes },
      extendEnv: false,
      reject: false,
      timeout: 30_000,
    });
    assert.equal(compose.exitCode, 0, compose.stderr);
    for (const service of ['host-executor', 'heartbeat', 'resource-manager', 'replication-scheduler', 'api-gateway']) {
      assert.match(compose.stdout, new RegExp(`TANDEM_NATS_SEED_FILE: /run/secrets/nats-${service}`), `${service} gets its own seed`);
    }
    assert.equal(compose.stdout.match(/TANDEM_NATS_CA_FILE: \/run\/secrets\/nats-ca\n/g)?.length, 5, 'every Tandem service trusts the cluster CA');
    assert.match(compose.stdout, /secrets\/nats-tls\/node-a\.pem/, "the server's own certificate is mounted");
    assert.match(compose.stdout, /TANDEM_API_CERT_FILE: \/run\/secrets\/api-cert\n/, 'the API serves HTTPS with the node certificate');
    assert.match(compose.stdout, /api-key:\n\s+file: \S+\/secrets\/nats-tls\/node-a\.key/, "the API's key is the node's own");
    assert.doesNotMatch(compose.stdout, /TANDEM_(CLUSTER_SECRET|TOKEN_SECRET|ADMIN_PASSWORD|NATS_SEED|DATABASE_URL):|POSTGRES_PASSWORD:/, 'no secret value in any environment');
    assert.equal(compose.stdout.match(/TANDEM_DATABASE_URL_FILE: \/run\/secrets\/database-url\n/g)?.length, 3, 'the services with a database read its URL from a secret');
    assert.match(compose.stdout, /POSTGRES_PASSWORD_FILE: \/run\/secrets\/db-password/);
    // every container's log is rotated
    assert.equal(compose.stdout.match(/max-size: 10m/g)?.length, 8, 'log rotation for every service (Jaeger too)');
    // root only where it must be: host-executor (privileged) and heartbeat (CAP_SYS_NICE alone)
    assert.equal(compose.stdout.match(/user: root/g)?.length, 2);
    assert.match(compose.stdout, /heartbeat:[\s\S]*?cap_add:\n\s+- SYS_NICE\n\s+cap_drop:\n\s+- ALL/);
    assert.match(compose.stdout, /jaeger:[\s\S]*?profiles:\n\s+- observability\n/, 'Jaeger only with its profile');
    // every service's health port on loopback and the admin address only
    assert.equal(compose.stdout.match(/TANDEM_HEALTH_BIND: 127\.0\.0\.1,127\.0\.0\.1\n/g)?.length, 5, 'TANDEM_HEALTH_BIND for every Tandem service');
    assert.match(compose.stdout, new RegExp(`- --routes\\n\\s+- ${routes.replaceAll('.', '\\.')}\\n`), "the routes on the server's command line");
    // the observability profile: Jaeger, which the services send their traces to
    const observability = await execa('docker-compose', ['--profile', 'observability', 'config'], {
      cwd: dir,
      env: { ...env, TANDEM_NATS_ROUTES: routes, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' },
      extendEnv: false,
      reject: false,
      timeout: 30_000,
    });
    assert.equal(observability.exitCode, 0, observability.stderr);
    assert.match(observability.stdout, /image: jaegertracing\/all-in-one/);
    assert.match(observability.stdout, /COLLECTOR_OTLP_HTTP_HOST_PORT: 127\.0\.0\.1:4318/);
    assert.equal(observability.stdout.match(/OTEL_EXPORTER_OTLP_ENDPOINT: http:\/\/127\.0\.0\.1:4318\n/g)?.length, 5, 'every service sends its traces to it');
    // .env.example gives every variable compose.yaml reads
    const example = readFileSync(join(dir, '.env.example'), 'utf8');
    const read = new Set([...readFileSync(join(dir, 'compose.yaml'), 'utf8').matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]!));
    for (const v of read) assert.match(example, new RegExp(`^${v}=`, 'm'), `.env.example gives ${v}`);
    // the witness's file
    const witness = await execa('docker-compose', ['-f', 'compose.witness.yaml', 'config'], {
      cwd: dir,
      env: { PATH: env.PATH, TANDEM_ADMIN_IP: '10.0.2.5', TANDEM_NATS_ROUTE_SECRET: env.TANDEM_NATS_ROUTE_SECRET, TANDEM_NATS_ROUTES: routes },
      extendEnv: false,
      reject: false,
      timeout: 30_000,
    });
    assert.equal(witness.exitCode, 0, witness.stderr);
    assert.match(witness.stdout, /nats-witness\.conf:\/etc\/nats\/nats\.conf:ro/);
    assert.match(witness.stdout, /secrets\/nats-tls\/witness\.key:\/etc\/nats\/tls\/server\.key:ro/);
    // a required setting left out is named
    const missing = await execa('docker-compose', ['config'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TANDEM_NODE_ID: 'node-a' },
      extendEnv: false,
      reject: false,
      timeout: 30_000,
    });
    assert.notEqual(missing.exitCode, 0);
    assert.match(missing.stderr, /TANDEM_/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
