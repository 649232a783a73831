import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one Tandem service, served as text on its health port (GET /metrics).
 * Every metric is named `tandem_…` and made on first use, so a service exposes the metrics it
 * measures (and the process metrics every service has). Labels are few and bounded: pool and
 * node names, operation names, phases, states — never ids, paths or messages.
 */
export const registry = new Registry();

const scrapeHooks: Array<() => Promise<void> | void> = [];
let started = false;

/** The process metrics (`tandem_process_…`, `tandem_nodejs_…`) and the labels every sample carries. */
export function startMetrics(labels: { service: string; node: string }): void {
  if (started) return;
  started = true;
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: 'tandem_' });
}

/** Called before every scrape: for gauges read from records (pool states) rather than set as things happen. */
export function onScrape(hook: () => Promise<void> | void): void {
  scrapeHooks.push(hook);
}

/** The exposition text of every metric, after the scrape hooks ran (a failing hook leaves its gauges as they were). */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  await Promise.all(
    scrapeHooks.map(async (h) => {
      try {
        await h();
      } catch {
        // its gauges stay as the last scrape left them
      }
    }),
  );
  return { contentType: registry.contentType, body: await registry.metrics() };
}

function once<T>(make: () => T): () => T {
  let made: T | undefined;
  return () => (made ??= make());
}

/** Seconds, from about a tenth of a second (an IP added) to two minutes (a slow import). */
const PHASE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 60, 120];
/** Seconds of a heartbeat's round trip on the heartbeat network. */
const RTT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Seconds of a host command or an API request. */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const registers = [registry];

/** The metrics, by where they are measured. The README's table lists the same. */
export const Metrics = {
  // resource-manager (the active one)
  poolState: once(
    () => new Gauge({ name: 'tandem_pool_state', help: 'HA pools by state (1 for the state the pool is in, else 0); from the active resource-manager', labelNames: ['pool', 'state'], registers }),
  ),
  failovers: once(
    () =>
      new Counter({
        name: 'tandem_failovers_total',
        help: 'Automatic failovers this node carried out or gave up (no node left to run the pool), by reason and result (succeeded, failed, no-target)',
        labelNames: ['reason', 'result'],
        registers,
      }),
  ),
  failoverPhase: once(
    () =>
      new Histogram({
        name: 'tandem_failover_phase_seconds',
        help: 'Duration of each phase of the automatic failovers that succeeded (detection, fence_wait, release, import, ips, shares, total)',
        labelNames: ['phase'],
        buckets: PHASE_BUCKETS,
        registers,
      }),
  ),
  // host-executor
  fences: once(() => new Counter({ name: 'tandem_fences_total', help: 'Pools this node fenced itself off (lease lost), by how each was released', labelNames: ['released'], registers })),
  leaseRenewalSeconds: once(
    () =>
      new Histogram({
        name: 'tandem_lease_renewal_seconds',
        help: "Round trip of this node's ownership lease renewals to the witness and its acknowledgement (late ones too)",
        buckets: [...RTT_BUCKETS, 1.5, 2],
        registers,
      }),
  ),
  leaseRenewalsUnacknowledged: once(
    () =>
      new Counter({
        name: 'tandem_lease_renewals_unacknowledged_total',
        help: 'Ownership lease renewals the witness did not acknowledge in time to count (by the takeover delay), or refused',
        registers,
      }),
  ),
  hostOperationSeconds: once(
    () =>
      new Histogram({
        name: 'tandem_host_operation_seconds',
        help: 'Duration of the host operations this host-executor carried out, by operation',
        labelNames: ['operation'],
        buckets: CALL_BUCKETS,
        registers,
      }),
  ),
  hostOperationErrors: once(
    () => new Counter({ name: 'tandem_host_operation_errors_total', help: 'Host operations that failed, by operation and error code', labelNames: ['operation', 'code'], registers }),
  ),
  // heartbeat
  heartbeatRtt: once(
    () =>
      new Histogram({
        name: 'tandem_heartbeat_rtt_seconds',
        help: 'Round trip of a heartbeat to a peer and its reply, by peer and channel',
        labelNames: ['peer', 'channel'],
        buckets: RTT_BUCKETS,
        registers,
      }),
  ),
  heartbeatMisses: once(
    () => new Counter({ name: 'tandem_heartbeat_misses_total', help: 'Heartbeat intervals in which nothing was heard from a peer, by peer and channel', labelNames: ['peer', 'channel'], registers }),
  ),
  peerTransitions: once(
    () =>
      new Counter({
        name: 'tandem_heartbeat_peer_transitions_total',
        help: "Changes of a peer's state as this node sees it, by peer and new state (up, suspect, down)",
        labelNames: ['peer', 'state'],
        registers,
      }),
  ),
  // api-gateway (and every health port)
  httpRequests: once(() => new Counter({ name: 'tandem_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames: ['method', 'route', 'status'], registers })),
  httpSeconds: once(
    () => new Histogram({ name: 'tandem_http_request_seconds', help: 'Duration of HTTP requests, by method and route', labelNames: ['method', 'route'], buckets: CALL_BUCKETS, registers }),
  ),
  // replication-scheduler (the active one)
  replicationLag: once(
    () =>
      new Gauge({
        name: 'tandem_replication_lag_seconds',
        help: "Age of a replica's newest common snapshot behind the active's newest, by pool and replica node",
        labelNames: ['pool', 'replica'],
        registers,
      }),
  ),
  replicationLagBytes: once(
    () => new Gauge({ name: 'tandem_replication_lag_bytes', help: 'Bytes a replica is known to be behind (0 in sync), by pool and replica node', labelNames: ['pool', 'replica'], registers }),
  ),
  replicationRate: once(
    () =>
      new Gauge({ name: 'tandem_replication_transfer_bytes_per_second', help: "Rate of a replica's last completed transfer, by pool and replica node", labelNames: ['pool', 'replica'], registers }),
  ),
  // every service
  natsReconnects: once(() => new Counter({ name: 'tandem_nats_reconnects_total', help: 'Reconnections of this service to NATS', registers })),
  natsDisconnects: once(() => new Counter({ name: 'tandem_nats_disconnects_total', help: 'Losses of the connection of this service to NATS', registers })),
};

/** The phases of a failover's timings (the poolFailedOver event) as histogram labels. */
export const FAILOVER_PHASES = {
  detectionMs: 'detection',
  fenceWaitMs: 'fence_wait',
  releaseMs: 'release',
  importMs: 'import',
  ipsMs: 'ips',
  sharesMs: 'shares',
  totalMs: 'total',
} as const;

/** Observe one succeeded failover's timings (milliseconds, as in the event) in the phase histogram. */
export function observeFailoverTimings(timings: Record<keyof typeof FAILOVER_PHASES, number>, reason: string): void {
  const h = Metrics.failoverPhase();
  for (const [key, phase] of Object.entries(FAILOVER_PHASES) as Array<[keyof typeof FAILOVER_PHASES, string]>) {
    // a phase that has no part in this kind of failover (no detection when the owner reported its own fault) is not observed
    if ((key === 'detectionMs' || key === 'fenceWaitMs') && reason !== 'node-down') continue;
    if (key === 'releaseMs' && reason === 'node-down') continue;
    h.observe({ phase }, timings[key] / 1000);
  }
  Metrics.failovers().inc({ reason, result: 'succeeded' });
}

/**
 * Heartbeat intervals missed from a peer on a channel, counted as the silence grows: a beat is
 * missed once the silence is half an interval past when it was due. `observe` returns how many
 * more were missed since the last call (0 when it was heard again meanwhile).
 */
export class MissCounter {
  private readonly counted = new Map<string, number>();

  constructor(private readonly intervalMs: number) {}

  observe(key: string, silentMs: number | null): number {
    const missed = silentMs === null ? 0 : Math.max(0, Math.floor((silentMs - this.intervalMs / 2) / this.intervalMs));
    const before = this.counted.get(key) ?? 0;
    this.counted.set(key, missed);
    return Math.max(0, missed - before);
  }
}
