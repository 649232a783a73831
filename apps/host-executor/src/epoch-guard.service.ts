import { Inject, Injectable } from '@nestjs/common';
import { join } from 'node:path';
import { z } from 'zod';
import { jsonWith, readStateFile, writeStateFile } from '@tandem/config';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

/**
 * Fencing epochs: the newest epoch seen per pool. An import or floating IP carrying an older
 * epoch is refused — a node acting on a superseded lease cannot take a pool back.
 * Kept on disk so a restarted host-executor still refuses stale requests.
 */
@Injectable()
export class EpochGuard {
  private readonly file: string;
  private readonly newest = new Map<string, number>();

  constructor(@Inject(SERVICE_CONTEXT) ctx: ServiceContext) {
    this.file = join(ctx.config.stateDir, 'fencing-epochs.json');
    // absent on a first start; there but unreadable, the service stops (a stale epoch must not pass)
    const kept = readStateFile(this.file, {
      what: 'the fencing epochs',
      ifRemoved: 'until the cluster moves each pool again, an import or floating IP carrying an older epoch is no longer refused here',
      parse: jsonWith(z.record(z.number().int().min(0))),
    });
    for (const [k, v] of Object.entries(kept ?? {})) this.newest.set(k, v);
  }

  /** Accept `epoch` for `pool` (recording it) or throw STALE_EPOCH. Undefined epochs are operator/local calls. */
  admit(pool: string, epoch: number | undefined): void {
    if (epoch === undefined) return;
    const seen = this.newest.get(pool) ?? -1;
    if (epoch < seen) {
      throw new TandemError(ErrorCode.StaleEpoch, `pool ${pool}: epoch ${epoch} is older than ${seen} already seen on this node; the lease moved on — refusing`, 'epoch');
    }
    if (epoch > seen) {
      this.newest.set(pool, epoch);
      writeStateFile(this.file, JSON.stringify(Object.fromEntries(this.newest)));
    }
  }

  newestFor(pool: string): number | undefined {
    return this.newest.get(pool);
  }
}
