import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { EVENTS_STREAM, Events, subjectFor } from '@tandem/contracts';
import { ResourceManagerClient, waitForStreamLeader } from '@tandem/messaging';
import { SERVICES, Testbed, type TestbedStatus } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { printNodeLogsOnFailure } from '../support/failure-logs';
import { OtlpCollector } from '../support/otlp-collector';
import { rmCall, setUpTwoNodeCluster } from '../support/cluster';
import { Prometheus } from '../support/prometheus';
import { runTandem } from '../support/tandem-cli';
import { HEARTBEAT_TIMEOUT_MS } from '../support/timings';

/**
 * What an operator watches the cluster with, on the testbed: a real Prometheus scraping every
 * service of every storage node on the admin network, the services' JSON logs, and their traces
 * (an OTLP collector standing where Jaeger would). An idle cluster exports no traces; the API
 * continues a caller's trace; a power-off of a pool's owner moves the failover counters and phase
 * histograms and counts the peer down, and every line the services log meanwhile is JSON.
 */
describe('observability: metrics, JSON logs and traces (testbed)', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  const NODES = ['node-a', 'node-b'] as const;
  const POOL = 'watched';
  const VIP = '10.77.3.93';
  const prometheus = new Prometheus();
  const traces = new OtlpCollector();
  let status: TestbedStatus;
  let nc: NatsConnection;
  printNodeLogsOnFailure(() => tb.root, [...NODES]);

  const logFile = (node: string, app: string) => join(status.root, 'nodes', node, 'logs', `${app}.log`);
  const sum = async (promql: string) => (await prometheus.scalar(`sum(${promql})`)) ?? 0;

  before(() =>
    setUpTwoNodeCluster(tb, traces, POOL, async (up) => {
      ({ status, nc } = up);
      await rmCall(new ResourceManagerClient(nc), 'pool.attach', { pool: POOL, node: 'node-a', vips: [`cli0:${VIP}/24`] });
      // every service's health port on the admin network: plain HTTP, the API's HTTPS (the testbed's CA)
      const storage = status.nodes.filter((n) => NODES.includes(n.name as (typeof NODES)[number]));
      const targets = (https: boolean) => storage.flatMap((n) => SERVICES.filter((s) => (s.app === 'api-gateway') === https).map((s) => `${n.addresses.admin}:${s.port}`));
      await prometheus.start([
        { name: 'tandem', targets: targets(false) },
        { name: 'tandem-api', targets: targets(true), caFile: status.ca },
      ]);
    }),
  );

  after(async () => {
    await nc?.close().catch(() => undefined);
    await prometheus.stop();
    await traces.stop();
    if (process.env.TANDEM_E2E_KEEP !== '1') await tb.down();
  });

  test('Prometheus scrapes every service of every node', async () => {
    const expected = NODES.length * SERVICES.length;
    const up = await waitFor(
      async () => {
        const r = await prometheus.query('up');
        if (r.length !== expected || r.some((s) => s.value !== 1)) throw new Error(`up: ${JSON.stringify(r.map((s) => `${s.metric.instance}=${s.value}`))}`);
        return r;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `all ${expected} targets up in Prometheus` },
    ).catch((err: Error) => assert.fail(`${err.message}\nprometheus log: ${prometheus.log()}`));
    assert.equal(up.length, expected);
    // every sample names its service and node; the heartbeats' round trips are measured, the pool is serving
    const services = await prometheus.query('count by (service, node) (tandem_process_start_time_seconds)');
    assert.equal(services.length, expected, JSON.stringify(services.map((s) => s.metric)));
    await waitFor(async () => (await sum('tandem_heartbeat_rtt_seconds_count')) > 0, { timeoutMs: 15_000, intervalMs: 500, what: 'heartbeat round trips measured' });
    assert.equal(await prometheus.scalar(`tandem_pool_state{pool="${POOL}",state="serving"}`), 1, 'the active resource-manager reports the pool serving');
    assert.ok((await sum('tandem_host_operation_seconds_count{operation="pool.import"}')) >= 1, 'host operations are timed by operation');
  });

  test("an idle cluster exports no traces (health probes and scrapes are not traced); the API continues a caller's trace", async () => {
    // what the set-up traced has been exported (the services batch spans for a second)
    await new Promise((r) => setTimeout(r, 3_000));
    const before = traces.spans.length;
    await new Promise((r) => setTimeout(r, 8_000));
    const idle = traces.spans.slice(before);
    assert.deepEqual(
      idle.map((s) => `${s.service}@${s.node}: ${s.name}`),
      [],
      'spans exported by an idle cluster (scraped every second by Prometheus)',
    );

    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const api = status.nodes.find((n) => n.name === 'node-b')!.api!;
    const code = await new Promise<number>((resolve, reject) => {
      const req = request(`${api}/api/v1/pools`, { ca: readFileSync(status.ca), headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(code, 200);
    const spans = await waitFor(
      () => {
        const t = traces.trace(traceId);
        return t.some((s) => s.name === 'GET /api/v1/pools') ? t : null;
      },
      { timeoutMs: 10_000, intervalMs: 250, what: `the API's span in the caller's trace ${traceId}` },
    );
    const server = spans.find((s) => s.name === 'GET /api/v1/pools')!;
    assert.equal(server.parentSpanId, '00f067aa0ba902b7', 'a child of the caller’s span');
    assert.deepEqual([server.service, server.node, server.resource['service.namespace'], server.resource['service.instance.id']], ['tandem-api-gateway', 'node-b', 'tandem', 'node-b/api-gateway']);
    // the request went on to the active resource-manager, in the same trace
    assert.ok(
      spans.some((s) => s.service === 'tandem-resource-manager'),
      `the resource-manager's part in the trace: ${spans.map((s) => `${s.service}: ${s.name}`).join(', ')}`,
    );
    // and was counted by route
    const r = await runTandem(api, ['pool', 'list'], { ca: status.ca, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => (await sum('tandem_http_requests_total{node="node-b",method="GET",route="/api/v1/pools",status="200"}')) >= 2, {
      timeoutMs: 10_000,
      intervalMs: 500,
      what: 'the API requests counted by method, route and status',
    });
  });

  test('power-off of the owner: failover counter and phase histograms move, the peer is counted down, every log line meanwhile is JSON', async () => {
    const owner = 'node-a';
    const peer = 'node-b';
    const phases = ['detection', 'fence_wait', 'import', 'ips', 'shares', 'total'];
    const countsBefore = await prometheus.query('sum by (phase) (tandem_failover_phase_seconds_count)');
    const phaseCount = (samples: typeof countsBefore, phase: string) => samples.find((s) => s.metric.phase === phase)?.value ?? 0;
    const failoversBefore = await sum('tandem_failovers_total{result="succeeded"}');
    const downBefore = await sum(`tandem_heartbeat_peer_transitions_total{node="${peer}",peer="${owner}",state="down"}`);
    // where every service's log stands before the fault
    const offsets = new Map(NODES.flatMap((n) => SERVICES.map((s) => [logFile(n, s.app), statSync(logFile(n, s.app)).size] as const)));

    await waitForStreamLeader(nc, 'witness', 60_000);
    await tb.powerOff(owner);
    const rmc = new ResourceManagerClient(nc);
    const served = await waitFor(
      async () => {
        const p = await rmc.call('pool.get', { pool: POOL }, 2_000);
        return p.state === 'serving' && p.node === peer ? p : null;
      },
      { timeoutMs: 45_000, intervalMs: 250, what: `${POOL} serving on ${peer}` },
    );
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    const ev = await waitFor(
      async () => {
        const m = await jsm.streams.getMessage(EVENTS_STREAM.name, { last_by_subj: subjectFor(Events.poolFailedOver, POOL) });
        const d = (JSON.parse(new TextDecoder().decode(m.data)) as { data: { epoch: number; traceId: string | null } }).data;
        return d.epoch === served.epoch ? d : null;
      },
      { timeoutMs: 15_000, intervalMs: 500, what: 'the failed-over event' },
    );

    // Prometheus, scraping the peer every second, sees the failover and the peer's view of the owner
    await waitFor(
      async () => {
        const counts = await prometheus.query('sum by (phase) (tandem_failover_phase_seconds_count)');
        const moved = phases.filter((p) => phaseCount(counts, p) > phaseCount(countsBefore, p));
        const failovers = await sum('tandem_failovers_total{result="succeeded"}');
        const down = await sum(`tandem_heartbeat_peer_transitions_total{node="${peer}",peer="${owner}",state="down"}`);
        if (moved.length !== phases.length || failovers <= failoversBefore || down <= downBefore)
          throw new Error(`phases moved: ${moved.join(', ') || 'none'}; failovers ${failoversBefore} → ${failovers}; ${owner} down as seen by ${peer}: ${downBefore} → ${down}`);
        return true;
      },
      { timeoutMs: 20_000, intervalMs: 500, what: 'the failover and the down transition in Prometheus' },
    );
    const detection = await prometheus.scalar('sum(tandem_failover_phase_seconds_sum{phase="detection"})');
    assert.ok(detection !== null && detection >= HEARTBEAT_TIMEOUT_MS / 1000, `the detection phase took at least the heartbeat timeout: ${detection}`);
    assert.ok((await sum(`tandem_heartbeat_misses_total{node="${peer}",peer="${owner}"}`)) >= 2, 'the heartbeats missed from the owner counted');
    assert.equal(await prometheus.scalar(`sum(up{instance=~"${status.nodes.find((n) => n.name === owner)!.addresses.admin}:.*"})`), 0, "the owner's targets are down");

    // every line the services printed during the failover is JSON with the fields, the failover's own lines carry its trace
    let lines = 0;
    const failoverLines: Array<Record<string, unknown>> = [];
    for (const [file, from] of offsets) {
      const text = readFileSync(file).subarray(from).toString('utf8');
      for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          assert.fail(`${file}: not a JSON line: ${line}`);
        }
        for (const field of ['level', 'time', 'service', 'node', 'msg']) assert.ok(typeof entry[field] === 'string', `${file}: no ${field} in ${line}`);
        assert.ok(file.includes(`/${String(entry.node)}/`) && file.endsWith(`/${String(entry.service)}.log`), `${file}: says ${String(entry.service)}@${String(entry.node)}`);
        if ('trace_id' in entry) assert.match(`${String(entry.trace_id)} ${String(entry.span_id)}`, /^[0-9a-f]{32} [0-9a-f]{16}$/);
        if (String(entry.msg).startsWith(`failover: pool ${POOL}`)) failoverLines.push(entry);
        lines++;
      }
    }
    assert.ok(lines > 0, 'the services logged during the failover');
    assert.ok(failoverLines.length >= 2, `the resource-manager logged the failover: ${JSON.stringify(failoverLines)}`);
    for (const l of failoverLines) assert.deepEqual([l.service, l.node, l.level, l.trace_id], ['resource-manager', peer, 'warn', ev.traceId], JSON.stringify(l));
  });
});
