import { Inject, Injectable, Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from '../host-executor.config';

/**
 * The harder fence, for when a pool must leave this node and a forced export did not finish in
 * time (its disks hang): the pools must not stay imported here. TANDEM_HARD_FENCE says how —
 * `reboot` (the kernel's immediate reboot, as a hardware watchdog would), `kill-zfs-daemon` (a
 * userspace ZFS: its pools are gone with it), or `none` (only logs).
 */
@Injectable()
export class HardFencer {
  private readonly logger = new Logger('hard-fence');

  constructor(@Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig) {}

  get mode(): HostExecutorConfig['hardFence'] {
    return this.cfg.hardFence;
  }

  /** True when the pools are gone from this node (the userspace ZFS daemon killed); a reboot does not return. */
  async fence(why: string): Promise<boolean> {
    this.logger.error(`hard fence (${this.cfg.hardFence}): ${why}`);
    switch (this.cfg.hardFence) {
      case 'kill-zfs-daemon': {
        try {
          const pid = Number(readFileSync(this.cfg.zfsDaemonPidFile, 'utf8').trim());
          process.kill(pid, 'SIGKILL');
          this.logger.error(`hard fence: killed the ZFS daemon (pid ${pid}); its pools are gone from this node`);
          return true;
        } catch (err) {
          this.logger.error(`hard fence: could not kill the ZFS daemon (${this.cfg.zfsDaemonPidFile}): ${(err as Error).message}`);
          return false;
        }
      }
      case 'reboot':
        this.logger.error('hard fence: rebooting this node now');
        await writeFile('/proc/sys/kernel/sysrq', '1').catch(() => undefined);
        await writeFile('/proc/sysrq-trigger', 'b').catch((err) => this.logger.error(`hard fence: reboot failed: ${(err as Error).message}`));
        return false;
      case 'none':
        this.logger.error('hard fence disabled (TANDEM_HARD_FENCE=none): the pool may still be imported here');
        return false;
    }
  }
}
