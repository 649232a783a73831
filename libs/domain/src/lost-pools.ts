import type { HaPool } from '@tandem/contracts';

/** A node's own report of the pools it has imported (null: its host-executor did not say), and when it arrived (monotonic ms). */
export interface ImportedReport {
  pools: string[] | null;
  at: number;
}

/**
 * Pools recorded as serving on a node that is up but not imported there, by that node's own
 * reports: it rebooted while nothing could take the pool over (no witness, maintenance mode, a
 * reboot quicker than the takeover), or someone exported it by hand. Such a pool serves nobody;
 * once every report for `afterMs` says so, it is lost there and moves like a faulted pool.
 * Pure: the caller feeds the records, the reports and its monotonic clock.
 */
export class LostPoolTracker {
  /** pool → the serving state (node and epoch) first seen, and when. */
  private readonly serving = new Map<string, { key: string; since: number }>();
  private readonly missingSince = new Map<string, number>();

  constructor(private readonly afterMs = 6_000) {}

  /** Node → the pools lost there, as of `now`. */
  update(now: number, pools: readonly HaPool[], reports: ReadonlyMap<string, ImportedReport>): Map<string, string[]> {
    const lost = new Map<string, string[]>();
    const names = new Set(pools.map((p) => p.name));
    for (const name of [...this.serving.keys()]) if (!names.has(name)) this.forget(name);
    for (const p of pools) {
      if (p.state !== 'serving' || !p.node) {
        this.forget(p.name);
        continue;
      }
      const key = `${p.node}/${p.epoch}`;
      const seen = this.serving.get(p.name);
      if (!seen || seen.key !== key) {
        this.serving.set(p.name, { key, since: now });
        this.missingSince.delete(p.name);
        continue;
      }
      const r = reports.get(p.node);
      // no report, or none made since this serving state was seen: nothing to go by
      if (!r || r.pools === null || r.at < seen.since || r.pools.includes(p.name)) {
        this.missingSince.delete(p.name);
        continue;
      }
      const since = this.missingSince.get(p.name) ?? now;
      this.missingSince.set(p.name, since);
      if (now - since >= this.afterMs) lost.set(p.node, [...(lost.get(p.node) ?? []), p.name]);
    }
    return lost;
  }

  private forget(name: string): void {
    this.serving.delete(name);
    this.missingSince.delete(name);
  }
}
