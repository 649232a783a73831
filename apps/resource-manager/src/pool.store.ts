import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { KV } from 'nats';
import { ErrorCode, Events, POOLS_BUCKET, TandemError, type HaPool } from '@tandem/contracts';
import { OrderedEvents, bindKv, kvCompareAndSet, kvGet, kvKeys } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

export interface StoredPool {
  pool: HaPool;
  revision: number;
}

/**
 * HA pool records in the replicated KV bucket (agreed state, quorum-written): every write is a
 * compare-and-set on the revision read, so two writers can never both win.
 */
@Injectable()
export class PoolStore implements OnModuleInit {
  private kv!: KV;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly events: OrderedEvents,
  ) {}

  async onModuleInit(): Promise<void> {
    this.kv = await bindKv(this.ctx.nc, POOLS_BUCKET.bucket);
  }

  private key(name: string): string {
    return `pool.${name}`;
  }

  async get(name: string): Promise<StoredPool | null> {
    const e = await kvGet(this.kv, this.key(name));
    if (!e || e.operation !== 'PUT' || e.value.length === 0) return null;
    return { pool: JSON.parse(new TextDecoder().decode(e.value)) as HaPool, revision: e.revision };
  }

  async require(name: string): Promise<StoredPool> {
    const p = await this.get(name);
    if (!p) throw new TandemError(ErrorCode.PoolNotManaged, `pool ${name} is not under cluster control (tandem pool list shows the pools that are)`, 'pool');
    return p;
  }

  async list(): Promise<HaPool[]> {
    const out: HaPool[] = [];
    for (const k of await kvKeys(this.ctx.nc, POOLS_BUCKET.bucket, 'pool.*')) {
      const p = await this.get(k.slice('pool.'.length));
      if (p) out.push(p.pool);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Write `pool` if the record is still at `revision` (0 = must not exist yet). */
  async put(pool: HaPool, revision: number): Promise<number> {
    const r = await kvCompareAndSet(this.kv, this.key(pool.name), new TextEncoder().encode(JSON.stringify(pool)), revision);
    if (!r.ok) {
      throw revision === 0
        ? new TandemError(ErrorCode.AlreadyExists, `pool ${pool.name} is already under cluster control`, 'pool')
        : new TandemError(ErrorCode.InTransition, `pool ${pool.name} was changed by someone else meanwhile: try again`, 'pool');
    }
    this.events.publish(Events.poolChanged, pool.name, { pool: pool as unknown as Record<string, unknown> });
    return r.revision;
  }

  async remove(name: string, revision: number): Promise<void> {
    await this.kv.delete(this.key(name), { previousSeq: revision });
    this.events.publish(Events.poolRemoved, name, { pool: name });
  }
}
