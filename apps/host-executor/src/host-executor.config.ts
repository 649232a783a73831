import { z } from 'zod';
import { env, readEnv, readFailoverConfig } from '@tandem/config';
import { DEFAULT_HOOKS_DIR } from '@tandem/contracts';
import { normalizeWwpn } from '@tandem/domain';

function isWwpn(w: string): boolean {
  try {
    normalizeWwpn(w);
    return true;
  } catch {
    return false;
  }
}

/** host-executor's own settings. */
export function readHostExecutorConfig(source: NodeJS.ProcessEnv = process.env) {
  const e = readEnv(
    {
      TANDEM_DEVICE_DIR: env.absPath('/dev/disk/by-id'),
      TANDEM_LOCAL_DEVICE_DIR: env.absPath('/var/lib/tandem/disks'),
      TANDEM_COMMAND_TIMEOUT_MS: env.millis(60_000),
      TANDEM_EXPORT_TIMEOUT_MS: env.millis(30_000),
      TANDEM_STREAM_TIMEOUT_MS: env.millis(6 * 3600_000),
      TANDEM_FACTS_INTERVAL_MS: env.millis(2_000),
      TANDEM_DISK_PROBE_INTERVAL_MS: env.millis(5_000),
      TANDEM_HARD_FENCE: env.oneOf(['reboot', 'kill-zfs-daemon', 'none'] as const, 'reboot'),
      TANDEM_ZFS_DAEMON_PIDFILE: env.absPath('/run/zfs-fuse.pid'),
      TANDEM_ENABLE_TEST_OPS: env.oneOf(['0', '1'] as const, '0'),
      TANDEM_HOOKS_DIR: env.absPath(DEFAULT_HOOKS_DIR),
      TANDEM_SMB_GUEST_USER: z
        .string()
        .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a unix user name')
        .refine((u) => u !== 'root', 'must not be root: an anonymous SMB client would act as root on the pool')
        .default('nobody')
        .describe('the unix account SMB guests act as (default nobody): what they write is owned by it, and they may write only where it may'),
      TANDEM_LUN_BACKING: env.oneOf(['auto', 'zvol', 'file'] as const, 'auto'),
      TANDEM_FC_WWPNS: z
        .string()
        .default('')
        .refine((v) => v.split(',').filter(Boolean).every(isWwpn), 'must be comma-separated WWPNs (8 bytes each, e.g. 21:00:00:24:ff:4a:bc:01)')
        .describe("this node's FC target ports (default: the port names in /sys/class/fc_host)"),
    },
    source,
  );
  // the fence is tied to the heartbeat timeout: an unsafe one is refused here too
  readFailoverConfig(source);
  return {
    deviceDir: e.TANDEM_DEVICE_DIR,
    /** This node's own disks (replicated pools' copies): never seen by another node, unlike `deviceDir`. */
    localDeviceDir: e.TANDEM_LOCAL_DEVICE_DIR,
    commandTimeoutMs: e.TANDEM_COMMAND_TIMEOUT_MS,
    exportTimeoutMs: e.TANDEM_EXPORT_TIMEOUT_MS,
    streamTimeoutMs: e.TANDEM_STREAM_TIMEOUT_MS,
    factsIntervalMs: e.TANDEM_FACTS_INTERVAL_MS,
    /** How often each managed pool's disks are written to so that dead disks are found without client I/O. */
    diskProbeIntervalMs: e.TANDEM_DISK_PROBE_INTERVAL_MS,
    /**
     * What a node does when it must fence and a forced export did not finish in time:
     * `reboot` (the kernel's immediate reboot, as a hardware watchdog would), `kill-zfs-daemon`
     * (a userspace ZFS such as zfs-fuse: its pools are gone with it), or `none` (only logs).
     */
    hardFence: e.TANDEM_HARD_FENCE,
    zfsDaemonPidFile: e.TANDEM_ZFS_DAEMON_PIDFILE,
    /**
     * The operations only tests and the demo need (making and destroying pools and datasets,
     * streams over NATS): off unless TANDEM_ENABLE_TEST_OPS=1. A production node manages the
     * pools its operator made; nothing on the bus can create, destroy or overwrite one.
     */
    enableTestOps: e.TANDEM_ENABLE_TEST_OPS === '1',
    /** The unprivileged account SMB guests act as (never root). */
    smbGuestUser: e.TANDEM_SMB_GUEST_USER,
    /** The operator's per-pool hooks on this node: `<dir>/<point>.d/` for every pool, `<dir>/pools/<POOL>/<point>.d/` for one. */
    hooksDir: e.TANDEM_HOOKS_DIR,
    /** What a new LUN is backed by: a zvol, a file in the pool, or (auto) a zvol where ZFS runs in the kernel (zfs-fuse has no zvols). */
    lunBacking: e.TANDEM_LUN_BACKING,
    /** This node's FC target ports; empty: read from /sys/class/fc_host. */
    fcWwpns: e.TANDEM_FC_WWPNS.split(',').filter(Boolean),
  };
}
export type HostExecutorConfig = ReturnType<typeof readHostExecutorConfig>;
export const HOST_EXECUTOR_CONFIG = Symbol('HOST_EXECUTOR_CONFIG');
