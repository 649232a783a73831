import { benchFailover } from './failover';
import { benchFailoverPools, type PoolsKind } from './failover-pools';
import { benchMove } from './move';
import { benchQuiet } from './quiet';
import { benchReplication } from './replication';
import type { BenchReport } from './stats';

/**
 * npm run bench -- <name> [--json] [--trials N] (replication: one 256 MiB incremental per trial) [--minutes M (quiet)]
 * [--kind power-off,power-off-leader,partition,client-link,disk (failover)] [--pools N [--kind power-off|offline] (failover at scale)]
 */
const BENCHES: Record<string, (o: { trials: number; minutes?: number; kinds?: never; log: (l: string) => void }) => Promise<BenchReport>> = {
  move: benchMove,
  failover: benchFailover,
  quiet: benchQuiet,
  replication: benchReplication,
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const ti = args.indexOf('--trials');
  const trials = ti >= 0 ? Number(args[ti + 1]) : 10;
  const ki = args.indexOf('--kind');
  const kinds = ki >= 0 ? args[ki + 1].split(',') : undefined;
  const mi = args.indexOf('--minutes');
  const minutes = mi >= 0 ? Number(args[mi + 1]) : undefined;
  const pi = args.indexOf('--pools');
  const pools = pi >= 0 ? Number(args[pi + 1]) : undefined;
  const name = args.find((a, i) => !a.startsWith('--') && !['--trials', '--minutes', '--kind', '--pools'].includes(args[i - 1]));
  if (!name || !BENCHES[name]) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [--json] [--trials N] [--minutes M (quiet)]\n`);
    process.exit(2);
  }
  if (!Number.isInteger(trials) || trials < 1 || trials > 1000) {
    process.stderr.write('bench: --trials takes a whole number from 1 to 1000\n');
    process.exit(2);
  }
  if (minutes !== undefined && !(minutes > 0 && minutes <= 600)) {
    process.stderr.write('bench: --minutes takes a number from 0 to 600\n');
    process.exit(2);
  }
  if (pools !== undefined) {
    if (name !== 'failover') {
      process.stderr.write('bench: --pools is an option of the failover bench\n');
      process.exit(2);
    }
    const kind = (kinds?.[0] ?? 'power-off') as PoolsKind;
    if (!['power-off', 'offline'].includes(kind) || (kinds?.length ?? 1) > 1) {
      process.stderr.write('bench: failover --pools takes --kind power-off or --kind offline\n');
      process.exit(2);
    }
    const r = await benchFailoverPools({ trials, pools, kind, log: (l) => process.stderr.write(`[bench failover --pools] ${l}\n`) });
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else
      process.stdout.write(
        `failover ${kind} with ${r.pools} pools: last pool served again after ${r.many.median} s (median; max ${r.many.max} s; per pool first ${r.many.spread.first}, median ${r.many.spread.median}, last ${r.many.spread.last}), one pool alone ${r.single.median} s: ratio ${r.ratio} (target ≤ 2: ${r.met ? 'met' : 'NOT met'}); double imports ${r.doubleImports}, false suspects ${r.falseSuspects}, ${r.trials} trials\n`,
      );
    return;
  }
  const report = await BENCHES[name]({ trials, minutes, kinds: kinds as never, log: (l) => process.stderr.write(`[bench ${name}] ${l}\n`) });
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else if ('kinds' in report) {
    for (const [kind, r] of Object.entries(
      (report as BenchReport & { kinds: Record<string, { median: number; max: number; trials: number; doubleImports: number; split: Record<string, number> }> }).kinds,
    )) {
      const split = Object.entries(r.split)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      process.stdout.write(`${name} ${kind}: median ${r.median} s, max ${r.max} s over ${r.trials} trials (${split}); double imports ${r.doubleImports}\n`);
    }
    process.stdout.write(`${name}: target power-off median ≤ 5 s, max ≤ 8 s, no double import: ${report.met ? 'met' : 'NOT met'}\n`);
  } else if ('ratio' in report) {
    const r = report as BenchReport & { tandemMBps: number; localPipeMBps: number; ratio: number; lagAfterS: number };
    process.stdout.write(
      `${name}: Tandem's SSH pull ${r.tandemMBps} MiB/s, local pipe ${r.localPipeMBps} MiB/s, ratio ${r.ratio} (target ≥ 0.8: ${r.met ? 'met' : 'NOT met'}); passive lag after the transfer ${r.lagAfterS} s (medians of ${r.trials} trials)\n`,
    );
  } else
    process.stdout.write(
      `${name}: median ${report.median} ${report.unit}, max ${report.max} ${report.unit} over ${report.trials} trials (target median < ${report.target.median} ${report.unit}: ${report.met ? 'met' : 'NOT met'})\n`,
    );
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exit(1);
});
