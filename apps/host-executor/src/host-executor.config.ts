import { z } from 'zod';
import { env, readEnv } from '@tandem/config';

/** host-executor's own settings. */
export function readHostExecutorConfig(source: NodeJS.ProcessEnv = process.env) {
  const e = readEnv(
    {
      TANDEM_DEVICE_DIR: env.absPath('/dev/disk/by-id'),
      TANDEM_COMMAND_TIMEOUT_MS: env.millis(60_000),
      TANDEM_EXPORT_TIMEOUT_MS: env.millis(30_000),
      TANDEM_STREAM_TIMEOUT_MS: env.millis(6 * 3600_000),
      TANDEM_FACTS_INTERVAL_MS: env.millis(2_000),
      TANDEM_NATS_MONITOR_URL: z.string().url('must be a URL').default('http://127.0.0.1:8222').describe('the node NATS server monitoring endpoint'),
      TANDEM_FENCE: z.enum(['on', 'off']).default('on').describe('on or off: self-fencing when the node loses the cluster'),
      TANDEM_FENCE_GRACE_MS: env.millis(250),
    },
    source,
  );
  return {
    deviceDir: e.TANDEM_DEVICE_DIR,
    commandTimeoutMs: e.TANDEM_COMMAND_TIMEOUT_MS,
    exportTimeoutMs: e.TANDEM_EXPORT_TIMEOUT_MS,
    streamTimeoutMs: e.TANDEM_STREAM_TIMEOUT_MS,
    factsIntervalMs: e.TANDEM_FACTS_INTERVAL_MS,
    natsMonitorUrl: e.TANDEM_NATS_MONITOR_URL.replace(/\/+$/, ''),
    fenceEnabled: e.TANDEM_FENCE === 'on',
    fenceGraceMs: e.TANDEM_FENCE_GRACE_MS,
  };
}
export type HostExecutorConfig = ReturnType<typeof readHostExecutorConfig>;
export const HOST_EXECUTOR_CONFIG = Symbol('HOST_EXECUTOR_CONFIG');
