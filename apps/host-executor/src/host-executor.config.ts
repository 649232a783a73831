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
    },
    source,
  );
  return {
    deviceDir: e.TANDEM_DEVICE_DIR,
    commandTimeoutMs: e.TANDEM_COMMAND_TIMEOUT_MS,
    exportTimeoutMs: e.TANDEM_EXPORT_TIMEOUT_MS,
    streamTimeoutMs: e.TANDEM_STREAM_TIMEOUT_MS,
    factsIntervalMs: e.TANDEM_FACTS_INTERVAL_MS,
  };
}
export type HostExecutorConfig = ReturnType<typeof readHostExecutorConfig>;
export const HOST_EXECUTOR_CONFIG = Symbol('HOST_EXECUTOR_CONFIG');
