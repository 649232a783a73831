import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, Events, POOL_RECORD, TandemError, type HaPool } from '@tandem/contracts';
import { KvRecordStore, OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

export interface StoredPool {
  pool: HaPool;
  revision: number;
}

/**
 * HA pool records (agreed state, quorum-written): every write is a compare-and-set on the
 * revision read, so two writers can never both win; every change is published as an event.
 */
@Injectable()
export class PoolStore {
  private readonly records: KvRecordStore<HaPool>;

  constructor(
    @Inject(SERVICE_CONTEXT) ctx: ServiceContext,
    private readonly events: OrderedEvents,
  ) {
    this.records = new KvRecordStore(ctx.nc, POOL_RECORD);
  }

  async get(name: string): Promise<StoredPool | null> {
    const r = await this.records.get(name);
    return r ? { pool: r.value, revision: r.revision } : null;
  }

  async require(name: string): Promise<StoredPool> {
    const p = await this.get(name);
    if (!p) throw new TandemError(ErrorCode.PoolNotManaged, `pool ${name} is not under cluster control (tandem pool list shows the pools that are)`, 'pool');
    return p;
  }

  async list(): Promise<HaPool[]> {
    return (await this.records.list()).map((r) => r.value).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Write `pool` if the record is still at `revision` (0 = must not exist yet). */
  async put(pool: HaPool, revision: number): Promise<number> {
    const r = await this.records.put(pool.name, pool, revision);
    if (!r.ok) {
      throw revision === 0
        ? new TandemError(ErrorCode.AlreadyExists, `pool ${pool.name} is already under cluster control`, 'pool')
        : new TandemError(ErrorCode.InTransition, `pool ${pool.name} was changed by someone else meanwhile: try again`, 'pool');
    }
    this.events.publish(Events.poolChanged, pool.name, { pool });
    return r.revision;
  }

  async remove(name: string, revision: number): Promise<void> {
    await this.records.delete(name, revision);
    this.events.publish(Events.poolRemoved, name, { pool: name });
  }
}
