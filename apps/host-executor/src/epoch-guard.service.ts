import { Inject, Injectable } from '@nestjs/common';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
    mkdirSync(ctx.config.stateDir, { recursive: true });
    this.file = join(ctx.config.stateDir, 'fencing-epochs.json');
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, number>;
      for (const [k, v] of Object.entries(data)) if (Number.isInteger(v)) this.newest.set(k, v);
    } catch {
      /* first start */
    }
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
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.newest)));
      renameSync(tmp, this.file);
    }
  }

  newestFor(pool: string): number | undefined {
    return this.newest.get(pool);
  }
}
