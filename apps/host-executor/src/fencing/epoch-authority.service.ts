import { Injectable, Logger } from '@nestjs/common';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { ReplicationRecords } from '../replication/replication-records.service';

/**
 * What a pool record allows an operation on this node that carries (or lacks) a fencing epoch:
 * - a pool under cluster control (it has a record) is imported to serve only with an epoch;
 * - an epoch may be at most one above the record's: the resource-manager writes each new epoch
 *   into the record right after the move or failover that made it, so anything higher is forged
 *   or corrupt — refused, and never saved (it would make every later epoch look stale here).
 * Pure: `record` is the pool record's epoch (null: no record).
 */
export function epochVerdict(pool: string, record: number | null, requested: number | undefined, what: string): TandemError | null {
  if (record === null) return null;
  if (requested === undefined) {
    return new TandemError(
      ErrorCode.InvalidArgument,
      `pool ${pool} is under cluster control (epoch ${record}): ${what} must carry its fencing epoch — ask the cluster (tandem pool move, reattach) rather than this node`,
      'epoch',
    );
  }
  if (requested > record + 1) {
    return new TandemError(
      ErrorCode.InvalidArgument,
      `pool ${pool}: epoch ${requested} is beyond the pool record's (${record}); refused and not recorded (a move or failover takes the next epoch, ${record + 1})`,
      'epoch',
    );
  }
  return null;
}

@Injectable()
export class EpochAuthority {
  private readonly logger = new Logger('epoch-authority');

  constructor(private readonly records: ReplicationRecords) {}

  /**
   * Check `requested` for `pool` against its record: the copy this node follows first (no I/O on
   * the takeover path); only when that copy refuses, or no epoch is given, the record read now
   * decides (the copy may be a moment behind). When the record cannot be read, an operation with an epoch goes on (the
   * copy may be stale while a stream elects its leader, as after a node died: a failover must not
   * wait on it), and one without is judged by the followed copy (refused when there is none).
   */
  async check(pool: string, requested: number | undefined, what: string): Promise<void> {
    // without an epoch (an operator's or a test's call, never the cluster's): always the record itself
    const seen = requested === undefined ? undefined : this.records.poolSeen(pool);
    if (seen !== undefined && epochVerdict(pool, seen?.epoch ?? null, requested, what) === null) return;
    let fresh;
    try {
      fresh = await this.records.freshPool(pool);
    } catch (err) {
      if (requested !== undefined) {
        this.logger.warn(`pool ${pool}: epoch ${requested} not checked against its record (${(err as Error).message}); the lease and the fencing epochs still guard it`);
        return;
      }
      // no epoch and the record unreadable (a stream electing its leader, as after a power loss,
      // when an operator imports by hand): the followed copy decides, if there is one
      const copy = this.records.poolSeen(pool);
      if (copy === undefined)
        throw new TandemError(ErrorCode.Unavailable, `cannot tell whether pool ${pool} is under cluster control (its record cannot be read: ${(err as Error).message}); try again`, 'pool');
      const verdict = epochVerdict(pool, copy?.epoch ?? null, requested, what);
      if (verdict) throw verdict;
      return;
    }
    const verdict = epochVerdict(pool, fresh?.epoch ?? null, requested, what);
    if (verdict) throw verdict;
  }
}
