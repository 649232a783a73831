import { z } from 'zod';
import { readEnv } from '@tandem/config';

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

/**
 * What the api-gateway needs beyond every service's configuration. The admin password and the
 * cluster secret are the same on every node: a token issued by one node's gateway is accepted
 * by every other node's gateway. Values are never echoed in errors.
 */
export function readGatewayConfig(source: NodeJS.ProcessEnv = process.env) {
  const e = readEnv(
    {
      TANDEM_ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').max(1024, 'must be at most 1024 characters').describe('the password of the API user "admin"'),
      TANDEM_CLUSTER_SECRET: z.string().min(16, 'must be at least 16 characters').describe('a random value shared by every node of the cluster, signs API tokens'),
    },
    source,
  );
  return { adminPassword: e.TANDEM_ADMIN_PASSWORD, clusterSecret: e.TANDEM_CLUSTER_SECRET };
}
export type GatewayConfig = ReturnType<typeof readGatewayConfig>;
