import { z } from 'zod';
import { env, readDatabaseConfig, readEnv, readFailoverConfig } from '@tandem/config';

export const RESOURCE_MANAGER_CONFIG = Symbol('RESOURCE_MANAGER_CONFIG');

/** What the resource-manager needs beyond every service's configuration, checked once at start. */
export function readResourceManagerConfig(source: NodeJS.ProcessEnv = process.env) {
  const e = readEnv(
    {
      TANDEM_FAILOVER_HOLD_DOWN_MS: env.millis(120_000),
      TANDEM_HOOK_TIMEOUT_MS: z.coerce
        .number()
        .int()
        .min(1_000, 'must be at least 1000 (1 s)')
        .max(600_000, 'must be at most 600000 (10 min)')
        .default(30_000)
        .describe("milliseconds the hooks of one point of a pool's start or stop have together on a node, before they are killed"),
    },
    source,
  );
  return {
    database: readDatabaseConfig(source),
    failover: readFailoverConfig(source),
    /** No ping-pong: a pool moved automatically stays put this long when only a client link goes down (a lost node or a faulted pool still loses it). */
    holdDownMs: e.TANDEM_FAILOVER_HOLD_DOWN_MS,
    /** The time the hooks of one point (pre-start, post-start, pre-stop, post-stop) have together on a node before they are killed. */
    hookTimeoutMs: e.TANDEM_HOOK_TIMEOUT_MS,
  };
}
export type ResourceManagerConfig = ReturnType<typeof readResourceManagerConfig>;
