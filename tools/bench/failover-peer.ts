import { ErrorCode } from '@tandem/contracts';
import { Testbed, clientReadsAgain, createPeerPool, peerBothOnline, peerFenced, peerGroup, peerLocate, peerPhases, sampleDoubleImports, vipOn, type PeerPhases } from '@tandem/testbed';
import { failoverEvent, steadyState } from './failover';
import { benchCluster, rmCall } from './setup';
import { median } from './stats';

/**
 * Tandem side by side with the standard Linux HA stack (corosync 3 + Pacemaker 2.1, see
 * libs/testbed/src/pacemaker.ts) on the same testbed: the same two node namespaces, the same
 * pool (one 128 MiB vdev in the shared JBOD, made afresh for each stack), the same floating IP,
 * the same SMB share and smb.conf, the same client. The stacks take turns: per round one Tandem
 * trial and one Pacemaker trial, each on a freshly brought-up testbed (the nodes' services
 * swapped), and in each trial
 *   - power-off: the owner loses power; seconds until the client reads through the floating IP
 *     again; both nodes' zfs asked every 250 ms whether the pool is imported on both;
 *   - move: the planned move to the other node (`tandem pool move` / `crm resource move`);
 *     seconds until the client reads through the floating IP served by the other node.
 */
const POOL = 'benchfo';
const VIP = '10.77.3.71';
const NODES = ['node-a', 'node-b'] as const;
const other = (n: string) => (n === 'node-a' ? 'node-b' : 'node-a');

interface Series {
  samples: number[];
  median: number;
  max: number;
}
const r3 = (x: number) => Number(x.toFixed(3));
const series = (xs: number[]): Series => ({ samples: xs.map(r3), median: r3(median(xs)), max: r3(Math.max(...xs)) });

export interface PeerReport {
  benchmark: 'failover-peer';
  unit: 's';
  trials: number;
  tandem: { powerOff: Series; move: Series; split: { detection: number; fenceWait: number; import: number; ips: number; shares: number }; doubleImports: number };
  pacemaker: { powerOff: Series; move: Series; split: { detection: number | null; fencing: number | null; start: number | null; import: number | null }; fenced: number; doubleImports: number };
  /** Tandem ÷ Pacemaker, medians (below 1: Tandem is faster). */
  ratio: { powerOff: number; move: number };
}

export async function benchFailoverPeer(opts: { trials: number; log: (l: string) => void }): Promise<PeerReport> {
  const tb = new Testbed({ log: () => undefined });
  const t = { off: [] as number[], move: [] as number[], doubles: 0, split: [] as Array<{ detectionMs: number; fenceWaitMs: number; importMs: number; ipsMs: number; sharesMs: number }> };
  const p = { off: [] as number[], move: [] as number[], doubles: 0, fenced: 0, split: [] as PeerPhases[] };
  await tb.down();
  for (let i = 0; i < opts.trials; i++) {
    // --- Tandem -------------------------------------------------------------------------
    // a bring-up that fails (a service not ready in time on a loaded machine) is tried once more from scratch
    const { nc } = await benchCluster(POOL, VIP, opts.log).catch(async (err: unknown) => {
      opts.log(`round ${i + 1}: Tandem's bring-up failed (${(err as Error).message.split('\n')[0]}); once more from scratch`);
      await tb.down();
      return benchCluster(POOL, VIP, opts.log);
    });
    try {
      await steadyState(tb, nc);
      const before = await rmCall(nc, 'pool.get', { pool: POOL });
      const owner = before.node!;
      const sampler = sampleDoubleImports(tb, POOL, NODES);
      const t0 = performance.now();
      await tb.powerOff(owner);
      const s = await clientReadsAgain(tb, VIP, t0, 'tandem power-off');
      const ev = await failoverEvent(nc, before.epoch, 75_000);
      t.doubles += await sampler.stop();
      t.off.push(s);
      if (ev) t.split.push(ev.timings);
      opts.log(
        `round ${i + 1}: tandem power-off of ${owner}: client reading again after ${s.toFixed(2)} s${ev ? ` (detection ${ev.timings.detectionMs} ms, fence wait ${ev.timings.fenceWaitMs}, import ${ev.timings.importMs}, IPs ${ev.timings.ipsMs}, shares ${ev.timings.sharesMs})` : ''}`,
      );
      await tb.powerOn(owner);
      await rmCall(nc, 'pool.mark-usable', { pool: POOL, node: owner }, 15_000, 120_000, [ErrorCode.Unavailable, ErrorCode.Timeout]);
      await steadyState(tb, nc);
      const from = (await rmCall(nc, 'pool.get', { pool: POOL })).node!;
      const m0 = performance.now();
      await rmCall(nc, 'pool.move', { pool: POOL, to: other(from) });
      const ms = await clientReadsAgain(tb, VIP, m0, 'tandem move');
      t.move.push(ms);
      opts.log(`round ${i + 1}: tandem move ${from} → ${other(from)}: client reading again after ${ms.toFixed(2)} s`);
    } finally {
      await nc.close();
      await tb.down();
    }

    // --- Pacemaker ----------------------------------------------------------------------
    try {
      await tb.up({ nodes: 2, stack: 'pacemaker' });
      const owner = await createPeerPool(tb, { pool: POOL, vip: VIP, createOn: 'node-a' });
      const survivor = other(owner);
      const sampler = sampleDoubleImports(tb, POOL, NODES);
      const faultAt = Date.now();
      const t0 = performance.now();
      await tb.powerOff(owner);
      const s = await clientReadsAgain(tb, VIP, t0, 'pacemaker power-off');
      p.doubles += await sampler.stop();
      p.off.push(s);
      const fenced = await peerFenced(tb, survivor, owner);
      if (fenced) p.fenced++;
      const ph = peerPhases(tb, survivor, POOL, owner, faultAt);
      p.split.push(ph);
      opts.log(
        `round ${i + 1}: pacemaker power-off of ${owner}: client reading again after ${s.toFixed(2)} s (detection ${ph.detectionMs} ms, fencing ${ph.fencingMs}, start ${ph.startMs} of which import ${ph.importMs}); fencing of ${owner} recorded: ${fenced}`,
      );
      await tb.powerOn(owner);
      const w0 = Date.now();
      while (!(await peerBothOnline(tb, survivor))) {
        if (Date.now() - w0 > 120_000) throw new Error(`pacemaker: ${owner} did not rejoin within 120 s`);
        await new Promise((r) => setTimeout(r, 500));
      }
      // as Tandem's move waits for a steady cluster: the rejoined node's probes and the join done
      const settled = await tb.exec(survivor, ['crm_resource', '--wait', '--timeout=120s'], { timeoutMs: 130_000 });
      if (settled.exitCode !== 0) throw new Error(`pacemaker: the cluster did not settle after ${owner} rejoined: ${settled.stderr}`);
      const from = (await peerLocate(tb, POOL, survivor))!;
      const to = other(from);
      const m0 = performance.now();
      const moved = await tb.exec(from, ['crm', 'resource', 'move', peerGroup(POOL), to], { timeoutMs: 30_000 });
      if (moved.exitCode !== 0) throw new Error(`crm resource move: ${moved.stderr}${moved.stdout}`);
      const ms = await clientReadsAgain(tb, VIP, m0, 'pacemaker move', () => vipOn(tb, to, VIP));
      p.move.push(ms);
      await tb.exec(to, ['crm', 'resource', 'clear', peerGroup(POOL)], { timeoutMs: 30_000 });
      opts.log(`round ${i + 1}: pacemaker move ${from} → ${to}: client reading again after ${ms.toFixed(2)} s`);
    } finally {
      await tb.down();
    }
  }
  const medMs = <T>(xs: T[], f: (x: T) => number | null) => {
    const v = xs.map(f).filter((x): x is number => x !== null);
    return v.length ? r3(median(v) / 1000) : null;
  };
  const tandemOff = series(t.off);
  const peerOff = series(p.off);
  const tandemMove = series(t.move);
  const peerMove = series(p.move);
  return {
    benchmark: 'failover-peer',
    unit: 's',
    trials: opts.trials,
    tandem: {
      powerOff: tandemOff,
      move: tandemMove,
      split: {
        detection: medMs(t.split, (x) => x.detectionMs)!,
        fenceWait: medMs(t.split, (x) => x.fenceWaitMs)!,
        import: medMs(t.split, (x) => x.importMs)!,
        ips: medMs(t.split, (x) => x.ipsMs)!,
        shares: medMs(t.split, (x) => x.sharesMs)!,
      },
      doubleImports: t.doubles,
    },
    pacemaker: {
      powerOff: peerOff,
      move: peerMove,
      split: { detection: medMs(p.split, (x) => x.detectionMs), fencing: medMs(p.split, (x) => x.fencingMs), start: medMs(p.split, (x) => x.startMs), import: medMs(p.split, (x) => x.importMs) },
      fenced: p.fenced,
      doubleImports: p.doubles,
    },
    ratio: { powerOff: r3(tandemOff.median / peerOff.median), move: r3(tandemMove.median / peerMove.median) },
  };
}
