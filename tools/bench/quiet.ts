import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Events, eventWildcard } from '@tandem/contracts';
import { benchCluster, rmCall } from './setup';
import type { BenchReport } from './stats';

/**
 * No false failover under load: the testbed serves one pool while another process keeps every
 * CPU core busy for `minutes` (default 10). Counts automatic failovers and self-fencings (both
 * must be 0) and checks the pool still serves on the node it started on, at the same epoch.
 * With `io`, as many processes also keep the disk busy: each writes 64 MiB and fsyncs it, over and
 * over, beside the testbed's disks and NATS stores (the JBOD's files and the witness's KV store
 * live on that disk). With `lone`, the other storage node is powered off first: the owner is alone
 * with the witness, and no peer can confirm hearing it, so only its own lease renewals keep it
 * from fencing (the node that survived a failure, under load).
 */
const POOL = 'benchquiet';
const VIP = '10.77.3.72';

/** One disk burner: 64 MiB written and fsync'd, again and again, to its own file in `dir`. */
const IO_BURNER = `
const fs = require('node:fs');
const file = process.argv[1];
const chunk = Buffer.alloc(1 << 20, 0x5a);
for (;;) {
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < 64; i++) fs.writeSync(fd, chunk);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}`;

export async function benchQuiet(opts: { trials: number; minutes?: number; io?: boolean; lone?: boolean; log: (l: string) => void }): Promise<BenchReport> {
  const minutes = opts.minutes ?? 10;
  const { tb, nc } = await benchCluster(POOL, VIP, opts.log);
  const burners: ChildProcess[] = [];
  try {
    const before = await rmCall(nc, 'pool.get', { pool: POOL });
    const peer = before.node === 'node-a' ? 'node-b' : 'node-a';
    if (opts.lone) {
      opts.log(`powering ${peer} off: ${before.node} is alone with the witness`);
      await tb.powerOff(peer);
    }
    let failovers = 0;
    let fences = 0;
    const subs = [
      nc.subscribe(eventWildcard(Events.poolFailedOver.entity, Events.poolFailedOver.verb), { callback: () => failovers++ }),
      nc.subscribe(eventWildcard(Events.poolFenced.entity, Events.poolFenced.verb), { callback: () => fences++ }),
    ];
    opts.log(`saturating ${cpus().length} CPU cores${opts.io ? ' and the disk' : ''}${opts.lone ? `, ${peer} off,` : ''} for ${minutes} min (pool ${POOL} on ${before.node}, epoch ${before.epoch})`);
    for (let i = 0; i < cpus().length; i++) burners.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
    const ioFiles = opts.io ? cpus().map((_, i) => join(tb.root, `io-burn-${i}`)) : [];
    for (const f of ioFiles) burners.push(spawn(process.execPath, ['-e', IO_BURNER, f], { stdio: 'ignore' }));
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
    if (opts.lone) {
      opts.log(`powering ${peer} on again`);
      await tb.powerOn(peer);
    }
    for (const s of subs) s.unsubscribe();
    const after = await rmCall(nc, 'pool.get', { pool: POOL });
    const moved = after.node !== before.node || after.epoch !== before.epoch ? 1 : 0;
    const falseFailovers = Math.max(failovers, moved) + fences;
    opts.log(`done: failovers ${failovers}, fences ${fences}, pool on ${after.node} epoch ${after.epoch}, client reads ${reads - readFailures}/${reads}`);
    return {
      benchmark: `quiet${opts.io ? ' --io' : ''}${opts.lone ? ' --lone' : ''}`,
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
    for (let i = 0; i < cpus().length; i++) rmSync(join(tb.root, `io-burn-${i}`), { force: true });
    await nc.close();
  }
}
