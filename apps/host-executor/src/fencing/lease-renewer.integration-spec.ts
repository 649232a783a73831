import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { readBaseConfig } from '@tandem/config';
import { FAILOVER_TIMINGS as T, WITNESS_TAG } from '@tandem/contracts';
import { Metrics } from '@tandem/telemetry';
import { waitFor } from '@tandem/util';
import type { ServiceContext } from '@tandem/service-kit';
import { LeaseRenewer } from './lease-renewer.service';

/*
 * The renewer against a real witness: a nats-server of its own, tagged as the witness, with the
 * ownership bucket on it. The server is frozen (SIGSTOP) and thawed: the renewals sent meanwhile
 * are all acknowledged when it answers again, late, and the newest of them keeps the lease.
 */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

/** The histogram's observations: how many in all, and how many took longer than `overS`. */
async function renewalsSlowerThan(overS: number): Promise<{ count: number; slower: number }> {
  const values = (await Metrics.leaseRenewalSeconds().get()).values;
  const count = values.find((v) => v.metricName === 'tandem_lease_renewal_seconds_count')?.value ?? 0;
  const within = values.find((v) => v.metricName === 'tandem_lease_renewal_seconds_bucket' && v.labels.le === overS)?.value ?? 0;
  return { count, slower: count - within };
}

test('a witness that answers late: every renewal is still acknowledged, and the newest one sent keeps the lease', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-lease-'));
  const port = await freePort();
  const conf = join(dir, 'nats.conf');
  await writeFile(conf, `port: ${port}\nhost: 127.0.0.1\nserver_name: witness\nserver_tags: ["${WITNESS_TAG}"]\njetstream { store_dir: "${dir}/js" }\n`);
  const server = spawn('nats-server', ['-c', conf], { stdio: 'ignore' });
  t.after(async () => {
    server.kill('SIGCONT');
    server.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const nc = await waitFor(() => connect({ servers: `127.0.0.1:${port}`, reconnect: false }), { timeoutMs: 15_000, intervalMs: 100, what: 'the witness nats-server' });
  const config = readBaseConfig({ TANDEM_NODE_ID: 'node-a', TANDEM_NATS_URL: `nats://127.0.0.1:${port}`, TANDEM_STATE_DIR: dir });
  const renewer = new LeaseRenewer({ service: 'host-executor', config, nc, startedAt: new Date() } as ServiceContext);
  t.after(async () => {
    renewer.onApplicationShutdown();
    await nc.close();
  });
  renewer.onModuleInit();
  await waitFor(() => renewer.armed && renewer.fresh(), { timeoutMs: 15_000, intervalMs: 50, what: 'the lease held on the witness' });
  const before = await renewalsSlowerThan(0.5);
  assert.equal(before.slower, 0, 'an idle witness answers every renewal within 0.5 s');

  // frozen until the lease is well past a fence's trigger (shorter than the takeover delay), then thawed
  server.kill('SIGSTOP');
  await waitFor(() => renewer.sinceLastAckedRenewalSentMs() >= T.fenceAfterMs + 400, { timeoutMs: 5_000, intervalMs: 10, what: 'the lease stale' });
  assert.equal(renewer.fresh(), false);
  server.kill('SIGCONT');
  const thawedAt = performance.now();
  await waitFor(() => renewer.fresh(), { timeoutMs: 5_000, intervalMs: 5, what: 'the lease fresh again' });

  // the renewals sent while the witness was frozen were answered late, and counted
  const after = await renewalsSlowerThan(0.5);
  assert.ok(after.slower >= 3, `renewals sent during the freeze were acknowledged late and counted (${after.slower} over 0.5 s)`);
  // what keeps the lease is the newest renewal sent, not the first one answered: one sent just
  // before the thaw (renewals went out on the beat throughout)
  const newestSentBeforeThaw = () => renewer.sinceLastAckedRenewalSentMs() - (performance.now() - thawedAt);
  await waitFor(() => newestSentBeforeThaw() <= T.renewMs + 50, { timeoutMs: 2_000, intervalMs: 5, what: 'a renewal sent within a beat of the thaw acknowledged' });
  const unacked = (await Metrics.leaseRenewalsUnacknowledged().get()).values[0]?.value ?? 0;
  assert.equal(unacked, 0, 'no renewal went unacknowledged: the freeze was shorter than the takeover delay');
});
