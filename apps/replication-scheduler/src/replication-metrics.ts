import type { ReplicationState } from '@tandem/contracts';

export interface ReplicaSample {
  labels: { pool: string; replica: string };
  lagSeconds: number | null;
  lagBytes: number | null;
  /** Of the last completed transfer; null before the first (or one of no duration). */
  bytesPerSecond: number | null;
}

/** The replication gauges' values, one per replica of every replicated pool, from the records. */
export function replicaSamples(records: readonly ReplicationState[]): ReplicaSample[] {
  return records.flatMap((s) =>
    Object.entries(s.replicas).map(([replica, r]) => ({
      labels: { pool: s.pool, replica },
      lagSeconds: r.lagSeconds,
      lagBytes: r.lagBytes,
      bytesPerSecond: r.lastTransfer && r.lastTransfer.ms > 0 ? r.lastTransfer.bytes / (r.lastTransfer.ms / 1000) : null,
    })),
  );
}
