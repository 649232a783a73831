import { setTimeout as sleep } from 'node:timers/promises';
import type { Testbed } from './testbed';

/*
 * What a failover or move trial watches on the testbed, whichever stack runs the nodes: the
 * pool imported on two nodes at once (never), and the client reading through the floating IP.
 */

/**
 * Asks both nodes' zfs every 250 ms whether `pool` is imported, counting the samples in which it
 * was imported on both at once; `stop()` ends the sampling and returns that count.
 */
export function sampleDoubleImports(tb: Testbed, pool: string, nodes: readonly string[] = ['node-a', 'node-b']): { stop: () => Promise<number> } {
  let sampling = true;
  let doubles = 0;
  const done = (async () => {
    while (sampling) {
      const imported = await Promise.all(
        nodes.map(async (n) => (await tb.exec(n, ['zpool', 'list', '-H', '-o', 'name'], { timeoutMs: 5_000 }).catch(() => null))?.stdout.split('\n').includes(pool) ?? false),
      );
      if (imported.every(Boolean)) doubles++;
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      sampling = false;
      await done;
      return doubles;
    },
  };
}

/** Waits until the client reads probe.txt through the SMB share `files` on `vip` (and `ready()`, when given, holds); seconds since `t0`. */
export async function clientReadsAgain(tb: Testbed, vip: string, t0: number, what: string, ready?: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (!ready || (await ready())) {
      const r = await tb.client(['smbclient', '-N', `//${vip}/files`, '-t', '2', '-c', 'get probe.txt /dev/null'], { timeoutMs: 10_000 });
      if (r.exitCode === 0) break;
      if (performance.now() - t0 > 60_000) throw new Error(`${what}: the client cannot read through ${vip} 60 s after it: ${r.stdout}${r.stderr}`);
    } else if (performance.now() - t0 > 60_000) throw new Error(`${what}: not served where expected 60 s after it`);
    await sleep(50);
  }
  return (performance.now() - t0) / 1000;
}
