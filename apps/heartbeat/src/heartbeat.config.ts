import { z } from 'zod';
import { ConfigError, HEARTBEAT_DEFAULTS, env, readEnv, readFailoverConfig } from '@tandem/config';
import { interfaceNameSchema } from '@tandem/contracts';
import { confirmationWindowMs } from '@tandem/domain';

export const HEARTBEAT_CONFIG = Symbol('HEARTBEAT_CONFIG');

/**
 * What the heartbeat service needs beyond every service's configuration. The cluster secret is
 * the same on every node; heartbeats are signed with a key derived from it. Values are never
 * echoed in errors.
 */
export function readHeartbeatConfig(source: NodeJS.ProcessEnv = process.env) {
  const e = readEnv(
    {
      TANDEM_CLUSTER_SECRET: z.string().min(16, 'must be at least 16 characters').describe('a random value shared by every node of the cluster, signs heartbeats'),
      TANDEM_HEARTBEAT_INTERVAL_MS: env.millis(HEARTBEAT_DEFAULTS.intervalMs),
      TANDEM_HEARTBEAT_TIMEOUT_MS: env.millis(HEARTBEAT_DEFAULTS.timeoutMs),
      TANDEM_HEARTBEAT_PORT: env.port(5405).describe('the UDP port of heartbeats on the heartbeat network, the same on every node'),
      TANDEM_CLIENT_INTERFACE: interfaceNameSchema.default('cli0').describe('the interface that carries the floating IPs, e.g. cli0'),
      TANDEM_LOCAL_HEALTH_INTERVAL_MS: env.millis(2_000),
    },
    source,
  );
  if (!(e.TANDEM_HEARTBEAT_TIMEOUT_MS > 2 * e.TANDEM_HEARTBEAT_INTERVAL_MS)) {
    throw new ConfigError(
      'TANDEM_HEARTBEAT_TIMEOUT_MS',
      `is malformed: must exceed twice TANDEM_HEARTBEAT_INTERVAL_MS (${e.TANDEM_HEARTBEAT_INTERVAL_MS} ms), got ${e.TANDEM_HEARTBEAT_TIMEOUT_MS} ms`,
    );
  }
  // the timeout also bounds how long a node that lost the witness may keep its pools: refused when unsafe
  readFailoverConfig(source);
  // ... and a node without the witness keeps them only while a peer echoes a heartbeat sent within
  // that window: it must hold more than one interval, or a single late heartbeat fences it
  const window = confirmationWindowMs(e.TANDEM_HEARTBEAT_TIMEOUT_MS);
  if (!(window > e.TANDEM_HEARTBEAT_INTERVAL_MS)) {
    throw new ConfigError(
      'TANDEM_HEARTBEAT_INTERVAL_MS',
      `is unsafe (${e.TANDEM_HEARTBEAT_INTERVAL_MS} ms): with TANDEM_HEARTBEAT_TIMEOUT_MS ${e.TANDEM_HEARTBEAT_TIMEOUT_MS} ms a peer's echo keeps a node that lost the witness for ${window} ms only, less than one interval; shorten the interval or lengthen the timeout`,
    );
  }
  return {
    clusterSecret: e.TANDEM_CLUSTER_SECRET,
    intervalMs: e.TANDEM_HEARTBEAT_INTERVAL_MS,
    timeoutMs: e.TANDEM_HEARTBEAT_TIMEOUT_MS,
    udpPort: e.TANDEM_HEARTBEAT_PORT,
    clientInterface: e.TANDEM_CLIENT_INTERFACE,
    localHealthIntervalMs: e.TANDEM_LOCAL_HEALTH_INTERVAL_MS,
  };
}
export type HeartbeatConfig = ReturnType<typeof readHeartbeatConfig>;
