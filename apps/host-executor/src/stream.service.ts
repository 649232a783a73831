import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { ErrorCode, TandemError, streamSubject, type HostOpParsed, type HostOpResults } from '@tandem/contracts';
import { CommandFailedError, spawnStreaming } from '@tandem/host';
import { receiveByteStream, sendByteStream } from '@tandem/messaging';
import { NATS_CONNECTION, SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { zfs, zfsError } from '@tandem/zfs';
import type { NatsConnection } from 'nats';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';
import { ZfsService } from './zfs.service';

/**
 * zfs send / zfs receive as byte streams over NATS. A receiver is opened first
 * (stream.receive → subject); the sender then pushes `zfs send` output to that subject.
 */
@Injectable()
export class StreamService {
  private readonly logger = new Logger('streams');

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
    private readonly zfsService: ZfsService,
  ) {}

  async receive(req: HostOpParsed<'stream.receive'>): Promise<HostOpResults['stream.receive']> {
    const pool = req.dataset.split('/')[0];
    if (!(await this.zfsService.findPool(pool))) throw new TandemError(ErrorCode.PoolNotFound, `pool ${pool} is not imported on this node`, 'dataset');
    const streamId = randomBytes(12).toString('hex');
    const subject = streamSubject(this.ctx.config.nodeId, streamId);
    const argv = zfs.receive(req.dataset, req.force);
    const proc = spawnStreaming(argv, { timeoutMs: this.cfg.streamTimeoutMs, stdin: true });
    const { done } = receiveByteStream(this.nc, subject, proc.stdin as Writable, {
      finish: async () => {
        try {
          await proc.done;
        } catch (err) {
          if (err instanceof CommandFailedError) throw zfsError(argv, err.stderr, err.timedOut);
          throw err;
        }
        return { dataset: req.dataset };
      },
      abort: (reason) => {
        this.logger.warn(`receive into ${req.dataset} aborted: ${reason}`);
        proc.kill('SIGKILL');
      },
    });
    done.then(
      (bytes) => this.logger.log(`received ${bytes} bytes into ${req.dataset}`),
      (err) => this.logger.warn(`receive into ${req.dataset} failed: ${(err as Error).message}`),
    );
    return { subject, streamId };
  }

  async send(req: HostOpParsed<'stream.send'>): Promise<HostOpResults['stream.send']> {
    const snap = await this.zfsService.getSnapshot(req.snapshot);
    if (!snap) throw new TandemError(ErrorCode.SnapshotNotFound, `snapshot ${req.snapshot} does not exist on this node`, 'snapshot');
    if (req.base && !(await this.zfsService.getSnapshot(req.base))) {
      throw new TandemError(ErrorCode.SnapshotNotFound, `base snapshot ${req.base} does not exist on this node`, 'base');
    }
    const argv = zfs.send(req.snapshot, req.base);
    const proc = spawnStreaming(argv, { timeoutMs: this.cfg.streamTimeoutMs, stdout: true });
    try {
      const [sent] = await Promise.all([
        sendByteStream(this.nc, req.subject, proc.stdout as Readable),
        proc.done.catch((err) => {
          if (err instanceof CommandFailedError) throw zfsError(argv, err.stderr, err.timedOut);
          throw err;
        }),
      ]);
      this.logger.log(`sent ${req.snapshot}${req.base ? ` (incremental from ${req.base})` : ''}: ${sent.bytes} bytes`);
      return { bytes: sent.bytes, received: null };
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    }
  }
}
