import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { ErrorCode, POOL_RECORD } from '@tandem/contracts';
import { HostClient, KvRecordStore } from '@tandem/messaging';
import { runTreeTasks } from '@tandem/util';
import { formedCluster, rmCall } from './setup';
import { median, type BenchReport } from './stats';

/**
 * Failover at scale: a node serving N pools (each with its own floating IP) is powered off
 * (`--kind power-off`, the default) or taken offline (`--kind offline`, planned evacuation); the
 * time until the *last* pool is recorded serving on a survivor and answers through its IP, against
 * the same for one pool alone, in the same run. Both nodes' zfs are asked for double imports every
 * 250 ms throughout; a survivor's heartbeat seen suspect (a false suspicion while it imports) is
 * counted.
 */
const NODES = ['node-a', 'node-b'] as const;
const poolName = (i: number) => `mp${String(i).padStart(3, '0')}`;
/** 10.77.3.130 up: clear of the nodes (.11 up), the client (.100) and the other tests' floating IPs. */
const vipOf = (i: number) => `10.77.3.${130 + i}`;
const round3 = (x: number) => Number(x.toFixed(3));

export type PoolsKind = 'power-off' | 'offline';

interface Trial {
  pools: number;
  /** Seconds from the fault (or the request) until the last pool served and answered. */
  lastS: number;
  /** Seconds until each pool served and answered, sorted. */
  perPoolS: number[];
}

export interface PoolsReport extends BenchReport {
  kind: PoolsKind;
  pools: number;
  single: { samples: number[]; median: number };
  many: { samples: number[]; median: number; max: number; spread: { first: number; median: number; last: number } };
  ratio: number;
  doubleImports: number;
  falseSuspects: number;
}

export async function benchFailoverPools(opts: { trials: number; pools: number; kind?: PoolsKind; log: (l: string) => void }): Promise<PoolsReport> {
  const kind = opts.kind ?? 'power-off';
  if (!Number.isInteger(opts.pools) || opts.pools < 2 || opts.pools > 100) throw new Error('--pools takes a whole number from 2 to 100 (each pool takes a floating IP of 10.77.3.130-229)');
  const { tb, nc, status } = await formedCluster(opts.log);
  let doubleImports = 0;
  let falseSuspects = 0;
  let owner: string = 'node-a';
  const suspects = nc.subscribe('tandem.evt.node.*.suspect');
  void (async () => {
    for await (const m of suspects) {
      // a suspicion of the node that is not the one failing is a false one
      const peer = (JSON.parse(new TextDecoder().decode(m.data)) as { data?: { peer?: string } }).data?.peer ?? m.subject.split('.')[3];
      if (peer !== owner && kind === 'power-off') falseSuspects++;
      if (kind === 'offline') falseSuspects++;
    }
  })().catch(() => undefined);
  try {
    const records = new KvRecordStore(nc, POOL_RECORD);
    const host = new HostClient(nc);
    const attach = async (i: number, node: string) => {
      const pool = poolName(i);
      const known = (await rmCall(nc, 'pool.list', {})).find((p) => p.name === pool);
      if (known) return;
      // a pool an earlier run made (on the disks, not under cluster control) is attached as it is
      const importable = (await host.call(node, 'pool.importable', {})).some((p) => p.name === pool);
      if (!importable) {
        await host.call(node, 'pool.create', { pool, vdevs: [`${pool}-0`], sizeMiB: 64, mountpoint: join(dirname(status.jbod), 'mnt', pool) });
        await host.call(node, 'pool.export', { pool });
      }
      // an attach that answered too late on a loaded machine is tried again and finds its own record
      await rmCall(nc, 'pool.attach', { pool, node, vips: [`cli0:${vipOf(i)}/24`], shares: [] }).catch(async (err: unknown) => {
        if ((err as { code?: string }).code !== ErrorCode.AlreadyExists || !(await records.get(pool))) throw err;
      });
    };
    // the set-up between trials moves pools the way an operator would, a few at a time
    const moveAll = async (names: string[], to: string) => {
      const results = await runTreeTasks(
        names,
        () => null,
        4,
        (pool) => rmCall(nc, 'pool.move', { pool, to, actor: 'bench' }),
      );
      const failed = results.find((r) => !r.ok);
      if (failed && !failed.ok) throw failed.error;
    };
    const mine = async (n: number) => (await rmCall(nc, 'pool.list', {})).filter((p) => Number(p.name.slice(2)) < n && p.name.startsWith('mp'));

    /** One trial: the pools 0..n-1, all on one node, that node fails (or is taken offline). */
    const trial = async (n: number): Promise<Trial> => {
      // every pool of the trial on one node, the others elsewhere
      const pools = await mine(n);
      owner = pools[0]?.node ?? 'node-a';
      await moveAll(
        pools.filter((p) => p.node !== owner).map((p) => p.name),
        owner,
      );
      const names = pools.map((p) => p.name);
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const imported = await Promise.all(
            NODES.map(async (node) => new Set((await tb.exec(node, ['zpool', 'list', '-H', '-o', 'name'], { timeoutMs: 5_000 }).catch(() => null))?.stdout.split('\n') ?? [])),
          );
          if (names.some((p) => imported.every((s) => s.has(p)))) doubleImports++;
          await sleep(250);
        }
      })();
      const t0 = performance.now();
      const offline = kind === 'offline' ? rmCall(nc, 'node.offline', { node: owner, actor: 'bench' }, 300_000) : null;
      if (kind === 'power-off') await tb.powerOff(owner);
      const served = new Map<string, number>();
      const answering = new Map<string, Promise<void>>();
      while (served.size < names.length) {
        if (performance.now() - t0 > 180_000) throw new Error(`${kind} of ${owner} with ${n} pools: ${served.size} of them served again after 180 s`);
        // the records themselves (the KV bucket), not the resource-manager: its lease may have been on the lost node
        const list = (await records.list().catch(() => [])).map((r) => r.value);
        for (const p of list) {
          if (!names.includes(p.name) || p.state !== 'serving' || p.node === owner || answering.has(p.name)) continue;
          const i = Number(p.name.slice(2));
          answering.set(
            p.name,
            (async () => {
              while ((await tb.client(['ping', '-c', '1', '-W', '1', vipOf(i)], { timeoutMs: 5_000 }).catch(() => null))?.exitCode !== 0) await sleep(50);
              served.set(p.name, (performance.now() - t0) / 1000);
            })(),
          );
        }
        await sleep(100);
      }
      await Promise.all(answering.values());
      await offline;
      sampling = false;
      await sampler;
      const perPoolS = [...served.values()].sort((a, b) => a - b);
      const lastS = perPoolS[perPoolS.length - 1];
      opts.log(
        `${kind} of ${owner} with ${n} pool(s): first served again after ${perPoolS[0].toFixed(2)} s, last after ${lastS.toFixed(2)} s; double imports so far ${doubleImports}, false suspects ${falseSuspects}`,
      );
      if (kind === 'power-off') await tb.powerOn(owner);
      else await rmCall(nc, 'node.online', { node: owner, actor: 'bench' });
      await Promise.all(names.map((p) => rmCall(nc, 'pool.mark-usable', { pool: p, node: owner }, 15_000, 120_000, [ErrorCode.Unavailable, ErrorCode.Timeout])));
      return { pools: n, lastS, perPoolS };
    };

    opts.log(`attaching ${opts.pools} pools, each with its own floating IP`);
    for (let i = 0; i < opts.pools; i++) await attach(i, 'node-a');
    const single: Trial[] = [];
    const many: Trial[] = [];
    for (let t = 0; t < opts.trials; t++) {
      // the single pool's trial: the other pools on the other node, out of the way
      const all = await mine(opts.pools);
      const home = all.find((p) => p.name === poolName(0))!.node!;
      const away = home === 'node-a' ? 'node-b' : 'node-a';
      await moveAll(
        all.filter((p) => p.name !== poolName(0) && p.node === home).map((p) => p.name),
        away,
      );
      single.push(await trial(1));
      many.push(await trial(opts.pools));
    }
    const s = single.map((x) => x.lastS);
    const m = many.map((x) => x.lastS);
    const ratio = round3(median(m) / median(s));
    const spreads = many.map((x) => x.perPoolS);
    return {
      benchmark: `failover --pools ${opts.pools} --kind ${kind}`,
      unit: 's',
      trials: opts.trials,
      samples: m.map(round3),
      median: round3(median(m)),
      max: round3(Math.max(...m)),
      target: { ratio: 2, doubleImports: 0 } as never,
      met: ratio <= 2 && doubleImports === 0,
      kind,
      pools: opts.pools,
      single: { samples: s.map(round3), median: round3(median(s)) },
      many: {
        samples: m.map(round3),
        median: round3(median(m)),
        max: round3(Math.max(...m)),
        spread: {
          first: round3(median(spreads.map((x) => x[0]))),
          median: round3(median(spreads.map((x) => median(x)))),
          last: round3(median(spreads.map((x) => x[x.length - 1]))),
        },
      },
      ratio,
      doubleImports,
      falseSuspects,
    };
  } catch (err) {
    // what the nodes' host-executors said of their leases and fences, before anything else is tried
    for (const node of NODES) {
      const log = await readFile(join(tb.root, 'nodes', node, 'logs', 'host-executor.log'), 'utf8').catch(() => '');
      const lines = log.split('\n').filter((l) => /fenc|lease|not answer|zfs-fuse|daemon/i.test(l));
      opts.log(`${node}'s host-executor on leases, fences and its ZFS daemon (last ${Math.min(lines.length, 15)} lines):\n${lines.slice(-15).join('\n')}`);
    }
    throw err;
  } finally {
    suspects.unsubscribe();
    await nc.close();
  }
}
