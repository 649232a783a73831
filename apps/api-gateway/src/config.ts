import { z } from 'zod';
import { env, readEnv } from '@tandem/config';

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

/**
 * What the api-gateway needs beyond every service's configuration. The admin password and the
 * cluster secret are the same on every node: a token issued by one node's gateway is accepted
 * by every other node's gateway. Values are never echoed in errors.
 */
export interface GatewayConfig {
  adminPassword: string;
  clusterSecret: string;
  /** The API port of the other nodes' gateways (a join calls the peer there); default: this gateway's own. */
  peerApiPort?: number;
  /** Wrong passwords allowed a minute from one address (ten times as many from all); default 5. */
  loginFailuresPerMinute?: number;
  /** Clients of the live event feed at once; default 64. */
  maxEventStreams?: number;
}

export function readGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = readEnv(
    {
      TANDEM_ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').max(1024, 'must be at most 1024 characters').describe('the password of the API user "admin"'),
      TANDEM_CLUSTER_SECRET: z.string().min(16, 'must be at least 16 characters').describe('a random value shared by every node of the cluster, signs API tokens'),
      TANDEM_PEER_API_PORT: env.port(1).optional().describe("the API port of the other nodes' gateways, called by a join (default: this gateway's own port)"),
      TANDEM_LOGIN_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).optional().describe('wrong passwords allowed a minute from one address (default 5)'),
      TANDEM_API_MAX_EVENT_STREAMS: z.coerce.number().int().min(1).max(10_000).optional().describe('clients of the live event feed at once (default 64)'),
    },
    source,
  );
  const config: GatewayConfig = { adminPassword: e.TANDEM_ADMIN_PASSWORD, clusterSecret: e.TANDEM_CLUSTER_SECRET };
  if (e.TANDEM_PEER_API_PORT !== undefined) config.peerApiPort = e.TANDEM_PEER_API_PORT as number;
  if (e.TANDEM_LOGIN_FAILURES_PER_MINUTE !== undefined) config.loginFailuresPerMinute = e.TANDEM_LOGIN_FAILURES_PER_MINUTE;
  if (e.TANDEM_API_MAX_EVENT_STREAMS !== undefined) config.maxEventStreams = e.TANDEM_API_MAX_EVENT_STREAMS;
  return config;
}
