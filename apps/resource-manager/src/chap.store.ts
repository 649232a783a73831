import { Inject, Injectable } from '@nestjs/common';
import { ISCSI_CHAP_RECORD, type IscsiChapRecord } from '@tandem/contracts';
import { KvRecordStore } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

/**
 * The iSCSI CHAP of each pool's target (ISCSI_CHAP_RECORD): kept apart from the pool record,
 * whose every change is an event integrators read, and readable by the resource-manager alone.
 * The node that starts a pool's target is given its CHAP in the start request.
 */
@Injectable()
export class ChapStore {
  private readonly records: KvRecordStore<IscsiChapRecord>;

  constructor(@Inject(SERVICE_CONTEXT) ctx: Pick<ServiceContext, 'nc'>) {
    this.records = new KvRecordStore(ctx.nc, ISCSI_CHAP_RECORD);
  }

  /** The pool's CHAP (user and secret), or null when its target lets initiators in without. */
  async get(pool: string): Promise<{ user: string; secret: string } | null> {
    const r = await this.records.get(pool);
    return r ? { user: r.value.user, secret: r.value.secret } : null;
  }

  async set(pool: string, chap: { user: string; secret: string }): Promise<void> {
    await this.records.overwrite(pool, { pool, user: chap.user, secret: chap.secret, setAt: new Date().toISOString() });
  }

  /** Forget the pool's CHAP; true when it had one. */
  async clear(pool: string): Promise<boolean> {
    const r = await this.records.get(pool);
    if (!r) return false;
    await this.records.delete(pool, r.revision);
    return true;
  }
}
