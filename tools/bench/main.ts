import { benchApi } from './api';
import { benchFailover } from './failover';
import { benchFailoverPeer } from './failover-peer';
import { benchFailoverPools, type PoolsKind } from './failover-pools';
import { benchMove } from './move';
import { benchQuiet } from './quiet';
import { benchReplication } from './replication';
import type { BenchReport } from './stats';

/**
 * npm run bench -- <name> [--json] [--trials N] (replication: one 256 MiB incremental per trial) [--minutes M (quiet)]
 * [--io (quiet: the disk saturated too)] [--lone (quiet: the peer powered off, the owner alone with the witness)] [--kind power-off,power-off-leader,partition,client-link,disk (failover)] [--pools N [--kind power-off|offline] (failover at scale)]
 * [--peer pacemaker (failover: Tandem and Pacemaker side by side, power-off and planned move)]
 * api [--pools N (default 200)] (the status, pool list and activity log reads with N pool records)
 */
const BENCHES: Record<string, (o: { trials: number; minutes?: number; io?: boolean; lone?: boolean; kinds?: never; log: (l: string) => void }) => Promise<BenchReport>> = {
  move: benchMove,
  failover: benchFailover,
  quiet: benchQuiet,
  replication: benchReplication,
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const io = args.includes('--io');
  const lone = args.includes('--lone');
  if ((io || lone) && !args.includes('quiet')) {
    process.stderr.write('bench: --io and --lone are options of the quiet bench\n');
    process.exit(2);
  }
  const ti = args.indexOf('--trials');
  const trials = ti >= 0 ? Number(args[ti + 1]) : 10;
  const ki = args.indexOf('--kind');
  const kinds = ki >= 0 ? args[ki + 1].split(',') : undefined;
  const mi = args.indexOf('--minutes');
  const minutes = mi >= 0 ? Number(args[mi + 1]) : undefined;
  const pi = args.indexOf('--pools');
  const pools = pi >= 0 ? Number(args[pi + 1]) : undefined;
  const peerAt = args.indexOf('--peer');
  const peer = peerAt >= 0 ? args[peerAt + 1] : undefined;
  const name = args.find((a, i) => !a.startsWith('--') && !['--trials', '--minutes', '--kind', '--pools', '--peer'].includes(args[i - 1]));
  if (!name || (!BENCHES[name] && name !== 'api')) {
    process.stderr.write(`usage: npm run bench -- <${[...Object.keys(BENCHES), 'api'].join('|')}> [--json] [--trials N] [--minutes M [--io] [--lone] (quiet)]\n`);
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
  if (peer !== undefined) {
    if (name !== 'failover' || peer !== 'pacemaker' || pools !== undefined || kinds !== undefined) {
      process.stderr.write('bench: --peer pacemaker is an option of the failover bench (power-off and planned move; no --pools or --kind)\n');
      process.exit(2);
    }
    const r = await benchFailoverPeer({ trials, log: (l) => process.stderr.write(`[bench failover --peer pacemaker] ${l}\n`) });
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else
      process.stdout.write(
        [
          `power-off: Tandem median ${r.tandem.powerOff.median} s (max ${r.tandem.powerOff.max}), Pacemaker median ${r.pacemaker.powerOff.median} s (max ${r.pacemaker.powerOff.max}); Tandem ÷ Pacemaker ${r.ratio.powerOff}`,
          `  Tandem: detection ${r.tandem.split.detection} s, fence wait ${r.tandem.split.fenceWait}, import ${r.tandem.split.import}, IPs ${r.tandem.split.ips}, shares ${r.tandem.split.shares}; double imports ${r.tandem.doubleImports}`,
          `  Pacemaker: detection ${r.pacemaker.split.detection} s, fencing ${r.pacemaker.split.fencing}, start ${r.pacemaker.split.start} (import ${r.pacemaker.split.import}); fenced in ${r.pacemaker.fenced} of ${r.trials}; double imports ${r.pacemaker.doubleImports}`,
          `planned move: Tandem median ${r.tandem.move.median} s (max ${r.tandem.move.max}), Pacemaker median ${r.pacemaker.move.median} s (max ${r.pacemaker.move.max}); Tandem ÷ Pacemaker ${r.ratio.move}`,
          `${r.trials} trials of each, interleaved`,
        ].join('\n') + '\n',
      );
    return;
  }
  if (name === 'api') {
    const r = await benchApi({ trials, pools: pools ?? 200, log: (l) => process.stderr.write(`[bench api] ${l}\n`) });
    if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
    else {
      for (const [what, t] of Object.entries(r.rest)) process.stdout.write(`api ${what} (REST): median ${t.medianMs} ms, p95 ${t.p95Ms} ms, max ${t.maxMs} ms over ${t.calls} calls\n`);
      for (const [what, t] of Object.entries(r.parts)) process.stdout.write(`api part ${what} (NATS): median ${t.medianMs} ms, p95 ${t.p95Ms} ms over ${t.calls} calls\n`);
      for (const [what, t] of Object.entries(r.cli)) process.stdout.write(`api ${what} (a new process): median ${t.medianMs} ms, max ${t.maxMs} ms over ${t.calls} runs\n`);
      process.stdout.write(
        `api with ${r.pools} pool records and ${r.activityEntries} activity entries: target every REST median < ${r.target.median} ms: ${r.met ? 'met' : 'NOT met'} (load ${r.load.before.join(' ')} before, ${r.load.after.join(' ')} after)\n`,
      );
    }
    return;
  }
  if (pools !== undefined) {
    if (name !== 'failover') {
      process.stderr.write('bench: --pools is an option of the failover and api benches\n');
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
  const report = await BENCHES[name]({ trials, minutes, io, lone, kinds: kinds as never, log: (l) => process.stderr.write(`[bench ${name}] ${l}\n`) });
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
  } else if (name === 'quiet')
    process.stdout.write(`${report.benchmark}: ${report.max} false failovers or fences in ${String(report.target.minutes)} min (target 0: ${report.met ? 'met' : 'NOT met'})\n`);
  else
    process.stdout.write(
      `${name}: median ${report.median} ${report.unit}, max ${report.max} ${report.unit} over ${report.trials} trials (target median < ${report.target.median} ${report.unit}: ${report.met ? 'met' : 'NOT met'})\n`,
    );
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exit(1);
});
