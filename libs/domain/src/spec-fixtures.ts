import type { HaPool } from '@tandem/contracts';

/** An HA pool record for the domain's specs: serving on `node` at epoch 1 with no IPs or shares, unless `over` says otherwise. Not exported from the lib. */
export function poolRecord(name: string, node: string | null, over: Partial<HaPool> = {}): HaPool {
  return { name, state: 'serving', node, operation: null, reason: null, vips: [], shares: [], fc: true, epoch: 1, mountpoint: null, updatedAt: '', ...over };
}
