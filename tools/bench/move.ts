import { benchCluster, rmCall } from './setup';
import { median, type BenchReport } from './stats';

/**
 * Planned moves of one pool with one floating IP and one SMB share: seconds from the move
 * command to the client reading a file through the floating IP again.
 */
const POOL = 'benchmove';
const VIP = '10.77.3.70';

export async function benchMove(opts: { trials: number; log: (l: string) => void }): Promise<BenchReport> {
  const { tb, nc } = await benchCluster(POOL, VIP, opts.log);
  try {
    const samples: number[] = [];
    for (let i = 0; i < opts.trials; i++) {
      const pool = await rmCall(nc, 'pool.get', { pool: POOL });
      const to = pool.node === 'node-a' ? 'node-b' : 'node-a';
      const t0 = performance.now();
      await rmCall(nc, 'pool.move', { pool: POOL, to });
      // the client reads through the floating IP again
      for (;;) {
        const r = await tb.client(['smbclient', '-N', `//${VIP}/files`, '-t', '2', '-c', 'get probe.txt /dev/null'], { timeoutMs: 10_000 });
        if (r.exitCode === 0) break;
        if (performance.now() - t0 > 60_000) throw new Error(`client cannot read through ${VIP} 60 s after the move: ${r.stdout}${r.stderr}`);
      }
      const s = (performance.now() - t0) / 1000;
      samples.push(s);
      opts.log(`trial ${i + 1}/${opts.trials}: moved to ${to}, client reading again after ${s.toFixed(2)} s`);
    }
    return {
      benchmark: 'move',
      unit: 's',
      trials: samples.length,
      samples: samples.map((s) => Number(s.toFixed(3))),
      median: Number(median(samples).toFixed(3)),
      max: Number(Math.max(...samples).toFixed(3)),
      target: { median: 2 },
      met: median(samples) < 2,
    };
  } finally {
    await nc.close();
  }
}
