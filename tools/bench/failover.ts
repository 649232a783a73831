import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from 'nats';
import { ErrorCode, EVENTS_STREAM, Events, subjectFor, type EventDefinition, type EventEnvelope } from '@tandem/contracts';
import { HeartbeatClient, waitForStreamLeader } from '@tandem/messaging';
import { clientReadsAgain, sampleDoubleImports, type Testbed } from '@tandem/testbed';
import { benchCluster, rmCall } from './setup';
import { median, type BenchReport } from './stats';

/**
 * Automatic failover on the testbed, with the default timings: per fault kind, seconds from the
 * fault to the client reading a file through the floating IP again, split into the phases the
 * taking node reports (detection, fence wait, import, IPs, shares), and the number of samples
 * in which the pool was imported on two nodes at once (must be 0; both nodes' zfs are asked
 * every 250 ms during every trial).
 *
 * Kinds: `power-off` (the owner loses power), `power-off-leader` (the same, with the owner the
 * JetStream meta leader: the pool is first moved to the storage node that leads; when the witness
 * leads, it is power-cycled first so that a storage node does), `partition` (the owner is cut off the heartbeat
 * and admin networks: it fences itself, the peer takes over), `client-link` (the owner's client
 * link goes down: it releases the pool, the peer takes it) and `disk` (every I/O of the owner's
 * ZFS to its vdevs fails: the disk probe makes ZFS suspend the pool, the owner fences itself
 * harder, the peer imports). With `client-link` the services run with a 1 s hold-down
 * (TANDEM_FAILOVER_HOLD_DOWN_MS), so that trials need not wait out the default 120 s; every
 * failover timing stays the default.
 */
const POOL = 'benchfo';
const VIP = '10.77.3.71';
const NODES = ['node-a', 'node-b'] as const;
/** Power-off to the client reading again, in seconds: the median and the slowest trial (issue: the next second). */
const TARGET = { median: 3, max: 4 };

export const FAILOVER_KINDS = ['power-off', 'power-off-leader', 'partition', 'client-link', 'disk'] as const;
type Kind = (typeof FAILOVER_KINDS)[number];
type FailedOver = typeof Events.poolFailedOver extends EventDefinition<infer T> ? T : never;

interface KindReport {
  trials: number;
  samples: number[];
  median: number;
  max: number;
  /** Medians over the trials, seconds, as the taking node measured them. */
  split: { detection: number; fenceWait: number; release: number; import: number; ips: number; shares: number };
  doubleImports: number;
}

const round3 = (x: number) => Number(x.toFixed(3));

export async function benchFailover(opts: { trials: number; log: (l: string) => void; kinds?: readonly Kind[] }): Promise<BenchReport & { kinds: Record<string, KindReport> }> {
  const kinds = opts.kinds ?? FAILOVER_KINDS;
  for (const k of kinds) if (!FAILOVER_KINDS.includes(k)) throw new Error(`unknown fault kind ${k}: ${FAILOVER_KINDS.join(', ')}`);
  if (kinds.includes('client-link')) process.env.TANDEM_FAILOVER_HOLD_DOWN_MS ??= '1000';
  const { tb, nc } = await benchCluster(POOL, VIP, opts.log);
  const reports: Record<string, KindReport> = {};
  try {
    for (const kind of kinds) {
      const samples: number[] = [];
      const phases: FailedOver['timings'][] = [];
      let doubleImports = 0;
      let notLeading = 0;
      for (let i = 0; i < opts.trials; i++) {
        await steadyState(tb, nc);
        if (kind === 'power-off-leader' && !(await ownerLeads(tb, nc, opts.log))) {
          if (++notLeading > 2 * opts.trials) throw new Error('power-off-leader: the JetStream meta leader stayed on the witness; no trial possible');
          i--;
          continue;
        }
        const before = await rmCall(nc, 'pool.get', { pool: POOL });
        const owner = before.node!;
        const peer = owner === 'node-a' ? 'node-b' : 'node-a';
        const sampler = sampleDoubleImports(tb, POOL, NODES);
        const meta = await metaLeader(tb, peer);
        const t0 = performance.now();
        if (kind === 'power-off' || kind === 'power-off-leader') await tb.powerOff(owner);
        else if (kind === 'client-link') await tb.cut(owner, 'client');
        else if (kind === 'disk') await tb.diskFail(owner);
        else {
          await tb.cut(owner, 'heartbeat');
          await tb.cut(owner, 'admin');
        }
        if (kind === 'partition' || kind === 'disk') {
          // the owner still answers the client (from its caches) until it lets go: time the peer's service
          while ((await tb.exec(owner, ['ip', '-o', 'addr', 'show', 'dev', 'cli0'], { timeoutMs: 5_000 }).catch(() => null))?.stdout.includes(` ${VIP}/`)) {
            if (performance.now() - t0 > 60_000) throw new Error(`${kind}: ${owner} still has ${VIP} 60 s after the fault`);
            await sleep(50);
          }
        }
        const s = await clientReadsAgain(tb, VIP, t0, kind);
        const ev = await failoverEvent(nc, before.epoch, 75_000); // published with retries: a stream re-electing its leader delays it
        doubleImports += await sampler.stop();
        samples.push(s);
        if (ev) phases.push(ev.timings);
        opts.log(
          `${kind} ${i + 1}/${opts.trials}: ${owner} → ${peer} (JetStream meta leader ${meta}), client reading again after ${s.toFixed(2)} s` +
            (ev
              ? ` (detection ${ev.timings.detectionMs} ms, fence wait ${ev.timings.fenceWaitMs}, release ${ev.timings.releaseMs}, import ${ev.timings.importMs}, IPs ${ev.timings.ipsMs}, shares ${ev.timings.sharesMs})`
              : ' (no failover event seen)') +
            `; double imports seen so far: ${doubleImports}`,
        );
        // back to two healthy nodes, and the pool allowed on both again
        if (kind === 'power-off' || kind === 'power-off-leader') await tb.powerOn(owner);
        else if (kind === 'client-link') await tb.heal(owner, 'client');
        else if (kind === 'disk') {
          await tb.diskHeal(owner);
          await tb.up({ nodes: 2 }); // its ZFS daemon was killed by the harder fence: back like a rebooted node
        } else {
          await tb.heal(owner, 'admin');
          await tb.heal(owner, 'heartbeat');
          await tb.up({ nodes: 2 }); // a node fenced harder (ZFS daemon killed) comes back like a rebooted one
        }
        // after a partition heals, a replicated stream may stay leaderless for a while (NATS Raft
        // re-election): the resource-manager answers once its lease stream has a leader again
        // (mark-usable is idempotent: an answer lost while the connection moved servers is asked again)
        await rmCall(nc, 'pool.mark-usable', { pool: POOL, node: owner }, 15_000, 120_000, [ErrorCode.Unavailable, ErrorCode.Timeout]);
      }
      const med = (f: (t: FailedOver['timings']) => number) => round3(median(phases.map(f)) / 1000);
      reports[kind] = {
        trials: samples.length,
        samples: samples.map(round3),
        median: round3(median(samples)),
        max: round3(Math.max(...samples)),
        split: {
          detection: med((t) => t.detectionMs),
          fenceWait: med((t) => t.fenceWaitMs),
          release: med((t) => t.releaseMs ?? 0),
          import: med((t) => t.importMs),
          ips: med((t) => t.ipsMs),
          shares: med((t) => t.sharesMs),
        },
        doubleImports,
      };
      opts.log(`${kind}: median ${reports[kind].median} s, max ${reports[kind].max} s, double imports ${doubleImports}`);
    }
    const main = reports['power-off'] ?? Object.values(reports)[0];
    const doubles = Object.values(reports).reduce((n, r) => n + r.doubleImports, 0);
    return {
      benchmark: 'failover',
      unit: 's',
      trials: main.trials,
      samples: main.samples,
      median: main.median,
      max: main.max,
      target: { median: TARGET.median, max: TARGET.max, doubleImports: 0 },
      met: (!reports['power-off'] || (reports['power-off'].median <= TARGET.median && reports['power-off'].max <= TARGET.max)) && doubles === 0,
      kinds: reports,
    };
  } finally {
    await nc.close();
  }
}

/** Make the bench pool's owner the JetStream meta leader when a storage node leads (the pool moves there). False: the witness leads. */
async function ownerLeads(tb: Testbed, nc: NatsConnection, log: (l: string) => void): Promise<boolean> {
  const owner = (await rmCall(nc, 'pool.get', { pool: POOL })).node!;
  const leader = await metaLeader(tb, owner);
  if (leader === owner) return true;
  if (leader === 'witness') {
    // leadership never moves by itself: the witness is power-cycled, and a storage node leads after
    log('power-off-leader: the witness is the JetStream meta leader: power-cycling it so that a storage node leads');
    await tb.powerOff('witness');
    await tb.powerOn('witness');
    await steadyState(tb, nc);
    return false;
  }
  if (!leader || !(NODES as readonly string[]).includes(leader)) {
    log(`power-off-leader: the JetStream meta leader is ${leader ?? 'unknown'}: no trial now`);
    return false;
  }
  await rmCall(nc, 'pool.move', { pool: POOL, to: leader }, 60_000, 60_000, [ErrorCode.Unavailable, ErrorCode.Timeout]);
  await steadyState(tb, nc);
  return (await metaLeader(tb, leader)) === leader;
}

/** The JetStream meta leader, as `node`'s NATS server sees it (null: it does not say). */
async function metaLeader(tb: Testbed, node: string): Promise<string | null> {
  const r = await tb.exec(node, ['curl', '-sf', 'http://127.0.0.1:8222/jsz'], { timeoutMs: 5_000 }).catch(() => null);
  try {
    return r?.exitCode === 0 ? ((JSON.parse(r.stdout) as { meta_cluster?: { leader?: string } }).meta_cluster?.leader ?? null) : null;
  } catch {
    return null;
  }
}

/**
 * The failover event of the bench pool with an epoch above `epoch`, read from the events stream
 * (this process's own connection may have been on the lost node's server when it was published),
 * or null when none came in time.
 */
export async function failoverEvent(nc: NatsConnection, epoch: number, timeoutMs: number): Promise<FailedOver | null> {
  const jsm = await nc.jetstreamManager({ checkAPI: false });
  const t0 = performance.now();
  for (;;) {
    const m = await jsm.streams.getMessage(EVENTS_STREAM.name, { last_by_subj: subjectFor(Events.poolFailedOver, POOL) }).catch(() => null);
    const ev = m ? (JSON.parse(new TextDecoder().decode(m.data)) as EventEnvelope<FailedOver>).data : null;
    if (ev && ev.epoch > epoch) return ev;
    if (performance.now() - t0 > timeoutMs) return null;
    await sleep(500);
  }
}

/**
 * Before every trial: both nodes answer, the peers hear each other, and the replicated streams
 * are led by the witness (the state the active resource-manager keeps them in).
 */
export async function steadyState(tb: Testbed, nc: NatsConnection): Promise<void> {
  await waitForStreamLeader(nc, 'witness', 60_000);
  const hb = new HeartbeatClient(nc);
  const t0 = performance.now();
  const st = await tb.status();
  for (const n of st.nodes.filter((x) => x.role === 'storage')) {
    for (;;) {
      const view = await hb.view(n.name, 5_000).catch(() => null);
      if (view?.peers.every((p) => p.state === 'up')) break;
      if (performance.now() - t0 > 90_000) throw new Error(`${n.name} does not hear its peers up after 90 s`);
      await sleep(500);
    }
  }
}
