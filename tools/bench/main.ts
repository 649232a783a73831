import { benchMove } from './move';
import type { BenchReport } from './stats';

/** npm run bench -- <name> [--json] [--trials N] */
const BENCHES: Record<string, (o: { trials: number; log: (l: string) => void }) => Promise<BenchReport>> = { move: benchMove };

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const ti = args.indexOf('--trials');
  const trials = ti >= 0 ? Number(args[ti + 1]) : 10;
  const name = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--trials');
  if (!name || !BENCHES[name]) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [--json] [--trials N]\n`);
    process.exit(2);
  }
  if (!Number.isInteger(trials) || trials < 1 || trials > 1000) {
    process.stderr.write('bench: --trials takes a whole number from 1 to 1000\n');
    process.exit(2);
  }
  const report = await BENCHES[name]({ trials, log: (l) => process.stderr.write(`[bench ${name}] ${l}\n`) });
  if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else process.stdout.write(`${name}: median ${report.median} ${report.unit}, max ${report.max} ${report.unit} over ${report.trials} trials (target median < ${report.target.median} ${report.unit}: ${report.met ? 'met' : 'NOT met'})\n`);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).message}\n`);
  process.exit(1);
});
