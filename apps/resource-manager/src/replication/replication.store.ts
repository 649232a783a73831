import { REPLICATION_RECORD, type ReplicationState } from '@tandem/contracts';
import { KvRecordStore } from '@tandem/messaging';
import type { ServiceContext } from '@tandem/service-kit';

/** The replication records, read by the resource-manager (the replication-scheduler writes them). */
export const REPLICATION_STORE = Symbol('REPLICATION_STORE');
export const replicationStoreProvider = (ctx: ServiceContext) => ({ provide: REPLICATION_STORE, useFactory: () => new KvRecordStore<ReplicationState>(ctx.nc, REPLICATION_RECORD) });
