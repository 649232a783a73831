import { Inject, Injectable, Logger } from '@nestjs/common';
import { pipeline } from 'node:stream/promises';
import { ErrorCode, Events, KEPT_DATASET, TandemError, snapshotShortNameSchema, type HostOpParsed, type HostOpResults } from '@tandem/contracts';
import { CommandFailedError, spawnStreaming } from '@tandem/host';
import { OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { KeyedMutex } from '@tandem/util';
import { zfs, zfsError } from '@tandem/zfs';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from '../host-executor.config';
import { ZfsService } from '../zfs.service';

/** The snapshot a keep-aside copies from: `<dataset>@tandem-diverged-<tag>` on every dataset of the pool. */
export const divergedSnapshotName = (tag: string) => snapshotShortNameSchema.parse(`tandem-diverged-${tag}`);

/** Where a dataset of the pool is kept: the root as `<pool>/tandem-kept/<tag>`, `<pool>/x` as `<pool>/tandem-kept/<tag>/x`. */
export function keptTarget(pool: string, tag: string, dataset: string): string {
  const root = `${pool}/${KEPT_DATASET}/${tag}`;
  return dataset === pool ? root : `${root}/${dataset.slice(pool.length + 1)}`;
}

/** The datasets a keep-aside copies: every filesystem of the pool but what was kept before, parents before children. */
export function datasetsToKeep(pool: string, filesystems: string[]): string[] {
  const kept = `${pool}/${KEPT_DATASET}`;
  const depth = (n: string) => n.split('/').length;
  return filesystems.filter((d) => d !== kept && !d.startsWith(`${kept}/`)).sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A replica's own data, kept aside before it is rolled back or overwritten (its pool served
 * while sync was locked, so it holds writes the other side lacks): never destroyed, copied with a
 * local `zfs send | zfs receive -u` to `<pool>/tandem-kept/<tag>/…`, which is never mounted
 * (mountpoint=none) and never replicated. Asked again with the same tag, it finishes what is
 * missing and answers the same.
 */
@Injectable()
export class KeepAsideService {
  private readonly logger = new Logger('keep-aside');
  private readonly locks = new KeyedMutex();

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: Pick<ServiceContext, 'config'>,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
    private readonly zfs: ZfsService,
    private readonly events: OrderedEvents,
  ) {}

  keepAside(req: HostOpParsed<'replication.keep-aside'>): Promise<HostOpResults['replication.keep-aside']> {
    return this.locks.run(req.pool, () => this.keepAsideNow(req.pool, req.tag));
  }

  private async keepAsideNow(pool: string, tag: string): Promise<HostOpResults['replication.keep-aside']> {
    if (!(await this.zfs.findPool(pool))) throw new TandemError(ErrorCode.PoolNotFound, `pool ${pool} is not imported on ${this.ctx.config.nodeId}: nothing to keep aside`, 'pool');
    let snapName: string;
    try {
      snapName = divergedSnapshotName(tag);
    } catch {
      throw new TandemError(ErrorCode.InvalidArgument, `tag ${tag} makes no valid snapshot name (tandem-diverged-${tag})`, 'tag');
    }
    const keptRoot = `${pool}/${KEPT_DATASET}`;
    const kept = keptTarget(pool, tag, pool);
    const filesystems = (await this.zfs.listDatasets(pool)).filter((d) => d.type === 'filesystem').map((d) => d.name);
    const hadKeptRoot = filesystems.includes(keptRoot);

    if (!(await this.zfs.getSnapshot(`${pool}@${snapName}`))) {
      if (filesystems.includes(kept)) throw new TandemError(ErrorCode.AlreadyExists, `${kept} already holds data kept aside under tag ${tag}: use another tag`, 'tag');
      // one recursive snapshot: every dataset as it was at the same moment
      await this.zfs.run(zfs.snapshot(pool, snapName, true));
      // it also caught the copies kept before, which are not this replica's data
      if (hadKeptRoot) await this.zfs.run(zfs.destroySnapshotRecursive(`${keptRoot}@${snapName}`));
    }
    if (!hadKeptRoot) await this.zfs.run(zfs.createUnmounted(keptRoot));

    const copies: string[] = [];
    for (const dataset of datasetsToKeep(pool, filesystems)) {
      const target = keptTarget(pool, tag, dataset);
      const from = `${dataset}@${snapName}`;
      if (await this.zfs.getSnapshot(`${target}@${snapName}`)) {
        copies.push(target); // copied by an earlier call with this tag
        continue;
      }
      if (!(await this.zfs.getSnapshot(from))) {
        this.logger.warn(`${dataset} was made after ${pool}@${snapName}: it has nothing to keep aside`);
        continue;
      }
      await this.copy(from, target);
      copies.push(target);
    }
    try {
      this.events.publish(Events.replicationKeptAside, pool, {
        node: this.ctx.config.nodeId,
        dataset: kept,
        reason: `the data of ${pool} on ${this.ctx.config.nodeId} as of ${pool}@${snapName} (${copies.length} dataset(s)), before its replica is rolled back or overwritten`,
      });
    } catch (err) {
      this.logger.warn(`kept-aside event for ${pool} not published: ${(err as Error).message}`);
    }
    this.logger.log(`kept ${pool} aside as ${kept}: ${copies.join(', ')}`);
    return { kept, datasets: copies };
  }

  /** `zfs send <from> | zfs receive -u <target>` on this node. */
  private async copy(from: string, target: string): Promise<void> {
    const sendArgv = zfs.send(from);
    const recvArgv = zfs.receive(target, false);
    const send = spawnStreaming(sendArgv, { timeoutMs: this.cfg.streamTimeoutMs, stdout: true });
    const recv = spawnStreaming(recvArgv, { timeoutMs: this.cfg.streamTimeoutMs, stdin: true });
    const [piped, sent, received] = await Promise.allSettled([
      pipeline(send.stdout as NodeJS.ReadableStream, recv.stdin as NodeJS.WritableStream).catch((err: Error) => {
        // one side failed: the other must not wait on it for ever
        send.kill('SIGKILL');
        recv.kill('SIGKILL');
        throw err;
      }),
      send.done,
      recv.done,
    ]);
    const failed = (
      [
        [sent, sendArgv],
        [received, recvArgv],
      ] as const
    ).filter(([r]) => r.status === 'rejected');
    // the side that says why it failed, not the one killed because of it (which says nothing)
    const [cause, argv] = failed.find(([r]) => r.status === 'rejected' && r.reason instanceof CommandFailedError && r.reason.stderr.trim()) ?? failed[0] ?? [];
    if (cause?.status === 'rejected') throw cause.reason instanceof CommandFailedError && argv ? zfsError(argv, cause.reason.stderr, cause.reason.timedOut) : cause.reason;
    if (piped.status === 'rejected') throw new TandemError(ErrorCode.StreamFailed, `copying ${from} to ${target} broke: ${(piped.reason as Error).message}`);
  }
}
