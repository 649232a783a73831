import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { realpath } from 'node:fs/promises';
import { ErrorCode, TandemError, type HostOpParsed, type HostOpResults } from '@tandem/contracts';
import { ShareService } from './share.service';
import { ZfsService } from './zfs.service';

/** share.* operations. */
@Controller()
export class ShareConsumer {
  constructor(
    private readonly shares: ShareService,
    private readonly zfs: ZfsService,
  ) {}

  @MessagePattern('share.start')
  async start(@Payload() req: HostOpParsed<'share.start'>): Promise<HostOpResults['share.start']> {
    await this.requireInsidePool(req.pool, req.path);
    return this.shares.start(req);
  }

  /**
   * A share serves its pool's files and nothing else: its path, with every symbolic link
   * resolved, lies within a filesystem of that pool mounted on this node. Anything else (the
   * node's own directories, a link out of the pool) is refused before a daemon starts.
   */
  private async requireInsidePool(pool: string, path: string): Promise<void> {
    // a mount whose ZFS daemon is gone (a hard fence) does not resolve: it is not the pool's
    const roots = (await Promise.all((await this.zfs.mountedPaths(pool)).map((m) => realpath(m).catch(() => null)))).filter((r): r is string => r !== null);
    if (roots.length === 0) throw new TandemError(ErrorCode.PoolNotFound, `pool ${pool} is not imported and mounted on this node: its shares cannot start here`, 'pool');
    let real: string;
    try {
      real = await realpath(path);
    } catch (err) {
      throw new TandemError(
        ErrorCode.InvalidArgument,
        `share path ${path} does not exist on this node (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): create the dataset or directory first`,
        'path',
      );
    }
    if (!roots.some((root) => real === root || real.startsWith(root.endsWith('/') ? root : `${root}/`))) {
      throw new TandemError(
        ErrorCode.InvalidArgument,
        `share path ${path}${real !== path ? ` (${real} once its links are resolved)` : ''} is outside pool ${pool}, whose filesystems are mounted at ${roots.join(', ')}: a share serves only its pool's files`,
        'path',
      );
    }
  }

  @MessagePattern('share.stop')
  stop(@Payload() req: HostOpParsed<'share.stop'>): Promise<HostOpResults['share.stop']> {
    return this.shares.stop(req);
  }

  @MessagePattern('share.list')
  list(): Promise<HostOpResults['share.list']> {
    return this.shares.list();
  }
}
