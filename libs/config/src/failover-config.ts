import { FAILOVER_TIMINGS } from '@tandem/contracts';
import { checkFailoverTimings } from '@tandem/domain';
import { ConfigError, env, readEnv } from './env';

/** The heartbeat's defaults (TANDEM_HEARTBEAT_INTERVAL_MS, TANDEM_HEARTBEAT_TIMEOUT_MS). */
export const HEARTBEAT_DEFAULTS = { intervalMs: 100, timeoutMs: 1_500 } as const;

/**
 * The heartbeat timeout every service of a node relies on (the heartbeat service detects with it,
 * host-executor's fence and resource-manager's takeover are tied to it through FAILOVER_TIMINGS),
 * checked at every start: a combination that could let a peer import a pool before its owner
 * fenced itself is refused with one line saying why.
 */
export function readFailoverConfig(source: NodeJS.ProcessEnv = process.env) {
  const e = readEnv({ TANDEM_HEARTBEAT_TIMEOUT_MS: env.millis(HEARTBEAT_DEFAULTS.timeoutMs) }, source);
  const problems = checkFailoverTimings(FAILOVER_TIMINGS, e.TANDEM_HEARTBEAT_TIMEOUT_MS);
  if (problems.length) {
    throw new ConfigError('TANDEM_HEARTBEAT_TIMEOUT_MS', `is unsafe (${e.TANDEM_HEARTBEAT_TIMEOUT_MS} ms): ${problems.join('; ')} — use the default ${HEARTBEAT_DEFAULTS.timeoutMs} or more`);
  }
  return { heartbeatTimeoutMs: e.TANDEM_HEARTBEAT_TIMEOUT_MS, timings: FAILOVER_TIMINGS };
}
export type FailoverConfig = ReturnType<typeof readFailoverConfig>;
