import { Injectable } from '@nestjs/common';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { KeyedMutex } from '@tandem/util';

/**
 * Pools worked on at once when one decision concerns many (a dead node's takeovers, a node's
 * evacuation). Enough that 20 pools take about as long as a few (zfs imports contend on the host,
 * the rest waits on NATS and the host-executor); bounded so that 200 pools do not start 200
 * imports, IP changes and share reloads at the same instant on a node whose heartbeat must stay
 * on time.
 */
export const POOL_PARALLELISM = 8;

/**
 * A lost node's pools taken over at once by one node: their records' compare-and-set and their
 * imports. Each node's host-executor imports the pools that wait together in one command (at most
 * 32 of them, IMPORT_BATCH_MAX), so this many keeps one batch importing while the next gathers,
 * and bounds how long an import waits for its turn (about two batches) whatever the number of
 * pools.
 * Their IPs and shares still go POOL_PARALLELISM at a time.
 */
export const TAKEOVER_PARALLELISM = 32;

/**
 * Operations on one pool run one at a time, and so do changes of the cluster: a second one
 * arriving meanwhile is refused IN_TRANSITION at once (never queued behind a move that may take
 * a minute).
 */
@Injectable()
export class OperationLocks {
  private readonly locks = new KeyedMutex();

  pool<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.exclusive(`pool:${name}`, `pool ${name}`, 'pool', fn);
  }

  cluster<T>(fn: () => Promise<T>): Promise<T> {
    return this.exclusive('cluster', 'the cluster', 'cluster', fn);
  }

  /** Adding, changing and removing share users (uids are given out one at a time). */
  shareUsers<T>(fn: () => Promise<T>): Promise<T> {
    return this.exclusive('share-users', 'the share users', 'name', fn);
  }

  private exclusive<T>(key: string, what: string, field: string, fn: () => Promise<T>): Promise<T> {
    if (this.locks.isBusy(key)) return Promise.reject(new TandemError(ErrorCode.InTransition, `${what} is in transition: another operation on it is running, try again when it is done`, field));
    return this.locks.run(key, fn);
  }
}
