import { z } from 'zod';
import { ConfigError, env, readEnv } from '@tandem/config';

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

/**
 * What the api-gateway needs beyond every service's configuration. The admin password and the
 * token secret are the same on every node: a token issued by one node's gateway is accepted
 * by every other node's gateway. The token secret is not the heartbeat's cluster secret: either
 * can be changed without touching the other. Values are never echoed in errors; each can be
 * given in a file instead (`TANDEM_ADMIN_PASSWORD_FILE`, `TANDEM_TOKEN_SECRET_FILE`).
 */
export interface GatewayConfig {
  adminPassword: string;
  tokenSecret: string;
  /** Reads (GET) need credentials too (`TANDEM_API_READS=authenticated`); default: open. */
  readsNeedLogin?: boolean;
  /** The addresses the API listens on (`TANDEM_API_BIND`); default: every address. */
  bind?: string[];
  /** The API port of the other nodes' gateways (a join calls the peer there); default: this gateway's own. */
  peerApiPort?: number;
  /** Wrong passwords allowed a minute from one address (ten times as many from all); default 5. */
  loginFailuresPerMinute?: number;
  /** Clients of the live event feed at once; default 64. */
  maxEventStreams?: number;
  /** The operator's certificate and key for HTTPS (`TANDEM_API_CERT(_FILE)`, `TANDEM_API_KEY(_FILE)`); default: one made at first start. */
  certificate?: { cert: string; key: string };
}

export function readGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = readEnv(
    {
      TANDEM_ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').max(1024, 'must be at most 1024 characters').describe('the password of the API user "admin"'),
      TANDEM_TOKEN_SECRET: z.string().min(16, 'must be at least 16 characters').describe('a random value shared by every node of the cluster, signs API tokens'),
      TANDEM_API_BIND: env.addressList().optional().describe('the addresses the API listens on, comma-separated (the admin and heartbeat addresses, 127.0.0.1): never the client network'),
      TANDEM_API_READS: z.enum(['open', 'authenticated']).optional().describe('open (default): reads need no credentials; authenticated: every request but the token endpoint and /health needs them'),
      TANDEM_PEER_API_PORT: env.port(1).optional().describe("the API port of the other nodes' gateways, called by a join (default: this gateway's own port)"),
      TANDEM_LOGIN_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).optional().describe('wrong passwords allowed a minute from one address (default 5)'),
      TANDEM_API_CERT: z
        .string()
        .regex(/^\s*-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/, 'must be a PEM certificate')
        .optional()
        .describe("the API's HTTPS certificate, PEM (give it in a file: TANDEM_API_CERT_FILE; with TANDEM_API_KEY_FILE); default: one made at first start under the state directory"),
      TANDEM_API_KEY: z
        .string()
        .regex(/^\s*-----BEGIN (EC |RSA )?PRIVATE KEY-----[\s\S]+-----END (EC |RSA )?PRIVATE KEY-----\s*$/, 'must be a PEM private key')
        .optional()
        .describe('the private key of TANDEM_API_CERT (give it in a file: TANDEM_API_KEY_FILE)'),
      TANDEM_API_MAX_EVENT_STREAMS: z.coerce.number().int().min(1).max(10_000).optional().describe('clients of the live event feed at once (default 64)'),
    },
    source,
  );
  const config: GatewayConfig = { adminPassword: e.TANDEM_ADMIN_PASSWORD, tokenSecret: e.TANDEM_TOKEN_SECRET };
  if (e.TANDEM_API_READS === 'authenticated') config.readsNeedLogin = true;
  if (e.TANDEM_API_BIND !== undefined) config.bind = e.TANDEM_API_BIND;
  if (e.TANDEM_PEER_API_PORT !== undefined) config.peerApiPort = e.TANDEM_PEER_API_PORT as number;
  if (e.TANDEM_LOGIN_FAILURES_PER_MINUTE !== undefined) config.loginFailuresPerMinute = e.TANDEM_LOGIN_FAILURES_PER_MINUTE;
  if (e.TANDEM_API_MAX_EVENT_STREAMS !== undefined) config.maxEventStreams = e.TANDEM_API_MAX_EVENT_STREAMS;
  if ((e.TANDEM_API_CERT === undefined) !== (e.TANDEM_API_KEY === undefined)) {
    throw new ConfigError(e.TANDEM_API_CERT === undefined ? 'TANDEM_API_CERT' : 'TANDEM_API_KEY', 'is needed too: give the certificate and its key together, or neither (one is made at first start)');
  }
  if (e.TANDEM_API_CERT !== undefined && e.TANDEM_API_KEY !== undefined) config.certificate = { cert: e.TANDEM_API_CERT, key: e.TANDEM_API_KEY };
  return config;
}
