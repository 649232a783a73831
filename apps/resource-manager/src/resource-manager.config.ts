import { env, readDatabaseConfig, readEnv, readFailoverConfig } from '@tandem/config';

export const RESOURCE_MANAGER_CONFIG = Symbol('RESOURCE_MANAGER_CONFIG');

/** What the resource-manager needs beyond every service's configuration, checked once at start. */
export function readResourceManagerConfig(source: NodeJS.ProcessEnv = process.env) {
  const e = readEnv({ TANDEM_FAILOVER_HOLD_DOWN_MS: env.millis(120_000) }, source);
  return {
    database: readDatabaseConfig(source),
    failover: readFailoverConfig(source),
    /** No ping-pong: a pool moved automatically stays put this long when only a client link goes down (a lost node or a faulted pool still loses it). */
    holdDownMs: e.TANDEM_FAILOVER_HOLD_DOWN_MS,
  };
}
export type ResourceManagerConfig = ReturnType<typeof readResourceManagerConfig>;
