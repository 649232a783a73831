import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { ErrorCode, TandemError, type HostOpParsed, type HostOpResults, type ShareInfo } from '@tandem/contracts';
import { ProcessRunner } from '@tandem/host';
import { ShareError, ShareManager, nfsRecoveryDir } from '@tandem/shares';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { IscsiTargets } from './iscsi-targets.service';
import { shareUsersPassdb } from './share-users.service';

/** SMB and NFS shares of pools, each bound to its pool's floating IPs only. */
@Injectable()
export class ShareService implements OnApplicationShutdown {
  private readonly logger = new Logger('shares');
  private readonly manager: ShareManager;

  constructor(
    runner: ProcessRunner,
    @Inject(SERVICE_CONTEXT) ctx: ServiceContext,
    @Inject(HOST_EXECUTOR_CONFIG) cfg: HostExecutorConfig,
    private readonly targets: IscsiTargets,
  ) {
    // SMB guests act as an unprivileged account, never as root
    // SMB users' logins are checked against the share users' file (ShareUsersService keeps it)
    // NFS clients' recovery records in the pool itself (when the request names its root), so they move with it
    this.manager = new ShareManager(runner, join(ctx.config.stateDir, 'host-executor'), {
      smbGuestAccount: cfg.smbGuestUser,
      smbPassdb: shareUsersPassdb(ctx.config.stateDir),
      nfsRecoveryRoot: (pool) => this.recoveryRoots.get(pool),
    });
  }

  /** Per pool, where its NFS server keeps its clients' recovery records (learnt from share.start). */
  private readonly recoveryRoots = new Map<string, string>();

  private map(err: unknown): never {
    if (err instanceof ShareError) {
      throw new TandemError(err.code === 'INVALID_ARGUMENT' ? ErrorCode.InvalidArgument : ErrorCode.ShareFailed, err.message, err.field);
    }
    throw err;
  }

  async start(req: HostOpParsed<'share.start'>): Promise<HostOpResults['share.start']> {
    const before = (await this.list()).find((s) => s.pool === req.pool && s.name === req.name && s.protocol === req.protocol);
    if (req.protocol === 'nfs' && req.poolRoot) this.recoveryRoots.set(req.pool, nfsRecoveryDir(req.poolRoot));
    try {
      const share = await this.manager.start(req);
      const changed = !(before?.running && before.pid === share.pid);
      if (changed) this.logger.log(`share ${req.protocol}://${req.name} of ${req.pool} serving on ${req.addresses.join(', ')}`);
      return { changed, share };
    } catch (err) {
      this.map(err);
    }
  }

  async stop(req: HostOpParsed<'share.stop'>): Promise<HostOpResults['share.stop']> {
    const before = (await this.list()).filter((s) => s.pool === req.pool && (!req.name || s.name === req.name) && (!req.protocol || s.protocol === req.protocol) && s.running);
    try {
      await this.manager.stop(req.pool, req.name, req.protocol);
    } catch (err) {
      this.map(err);
    }
    return { changed: before.length > 0 };
  }

  /** Stop every share of a pool and its block target (before an export, and in a fence). */
  async stopPool(pool: string): Promise<void> {
    const results = await Promise.allSettled([this.stop({ pool }), this.targets.stop(pool)]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  list(): Promise<ShareInfo[]> {
    return this.manager.list();
  }

  async onApplicationShutdown(): Promise<void> {
    // Shares keep serving across a host-executor restart: they belong to the pool, not to this process.
  }
}
