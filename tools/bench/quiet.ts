import { spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Events, eventWildcard } from '@tandem/contracts';
import { benchCluster, rmCall } from './setup';
import type { BenchReport } from './stats';

/**
 * No false failover under load: the testbed serves one pool while another process keeps every
 * CPU core busy for `minutes` (default 10). Counts automatic failovers and self-fencings (both
 * must be 0) and checks the pool still serves on the node it started on, at the same epoch.
 */
const POOL = 'benchquiet';
const VIP = '10.77.3.72';

export async function benchQuiet(opts: { trials: number; minutes?: number; log: (l: string) => void }): Promise<BenchReport> {
  const minutes = opts.minutes ?? 10;
  const { tb, nc } = await benchCluster(POOL, VIP, opts.log);
  const burners: ChildProcess[] = [];
  try {
    const before = await rmCall(nc, 'pool.get', { pool: POOL });
    let failovers = 0;
    let fences = 0;
    const subs = [
      nc.subscribe(eventWildcard(Events.poolFailedOver.entity, Events.poolFailedOver.verb), { callback: () => failovers++ }),
      nc.subscribe(eventWildcard(Events.poolFenced.entity, Events.poolFenced.verb), { callback: () => fences++ }),
    ];
    opts.log(`saturating ${cpus().length} CPU cores for ${minutes} min (pool ${POOL} on ${before.node}, epoch ${before.epoch})`);
    for (let i = 0; i < cpus().length; i++) burners.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    const end = performance.now() + minutes * 60_000;
    let reads = 0;
    let readFailures = 0;
    while (performance.now() < end) {
      await sleep(10_000);
      const r = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-t', '5', '-c', 'get probe.txt /dev/null'], { timeoutMs: 20_000 }).catch(() => null);
      reads++;
      if (r?.exitCode !== 0) readFailures++;
      opts.log(`${Math.round((end - performance.now()) / 1000)} s left: failovers ${failovers}, fences ${fences}, client reads ${reads - readFailures}/${reads}`);
    }
    for (const b of burners) b.kill('SIGKILL');
    await sleep(2_000);
    for (const s of subs) s.unsubscribe();
    const after = await rmCall(nc, 'pool.get', { pool: POOL });
    const moved = after.node !== before.node || after.epoch !== before.epoch ? 1 : 0;
    const falseFailovers = Math.max(failovers, moved) + fences;
    opts.log(`done: failovers ${failovers}, fences ${fences}, pool on ${after.node} epoch ${after.epoch}, client reads ${reads - readFailures}/${reads}`);
    return {
      benchmark: 'quiet',
      unit: 'false failovers',
      trials: 1,
      samples: [falseFailovers],
      median: falseFailovers,
      max: falseFailovers,
      target: { max: 0, minutes },
      met: falseFailovers === 0,
    };
  } finally {
    for (const b of burners) b.kill('SIGKILL');
    await nc.close();
  }
}
