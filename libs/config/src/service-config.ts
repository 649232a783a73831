import { z } from 'zod';
import { env, readEnv } from './env';

/** What every Tandem service needs to start. */
export function readBaseConfig(source: NodeJS.ProcessEnv = process.env) {
  const e = readEnv(
    {
      TANDEM_NODE_ID: env.nodeId(),
      TANDEM_CLUSTER_ID: env.clusterId(),
      TANDEM_NATS_URL: env.natsUrl(),
      TANDEM_NATS_SEED: z
        .string()
        .regex(/^SU[A-Z2-7]{56}$/, 'must be an nkey user seed (SU…, 58 characters)')
        .optional()
        .describe("this service's NATS nkey seed (give it in a file: TANDEM_NATS_SEED_FILE); without it the connection is anonymous"),
      TANDEM_NATS_CA: z
        .string()
        .regex(/^\s*-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/, 'must be a PEM certificate (the cluster CA, ca.pem)')
        .optional()
        .describe("the CA that signed the NATS servers' certificates (give it in a file: TANDEM_NATS_CA_FILE); with it the connection is TLS and the server must prove itself"),
      TANDEM_HEALTH_PORT: env.port(0).optional(),
      TANDEM_HEALTH_BIND: env
        .addressList()
        .optional()
        .describe("the addresses a service's health and metrics port listens on, comma-separated (127.0.0.1 and the admin address): never the client network"),
      TANDEM_STATE_DIR: env.absPath('/var/lib/tandem'),
      TANDEM_LOG_LEVEL: env.logLevel(),
      TANDEM_LOG_FORMAT: z.enum(['json', 'pretty']).optional().describe('json or pretty (default: pretty when stdout is a terminal, else json)'),
      OTEL_EXPORTER_OTLP_ENDPOINT: env.optionalUrl(),
    },
    source,
  );
  return {
    nodeId: e.TANDEM_NODE_ID,
    clusterId: e.TANDEM_CLUSTER_ID,
    natsUrl: e.TANDEM_NATS_URL,
    natsSeed: e.TANDEM_NATS_SEED,
    natsCa: e.TANDEM_NATS_CA,
    healthPort: e.TANDEM_HEALTH_PORT,
    /** Where the health and metrics port listens (default: every address); the api-gateway listens where TANDEM_API_BIND says. */
    healthBind: e.TANDEM_HEALTH_BIND,
    stateDir: e.TANDEM_STATE_DIR,
    logLevel: e.TANDEM_LOG_LEVEL,
    /** JSON lines, or the console format for a person (unset: pretty on a terminal, else JSON). */
    logFormat: e.TANDEM_LOG_FORMAT,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
  };
}
export type BaseConfig = ReturnType<typeof readBaseConfig>;

export function readDatabaseConfig(source: NodeJS.ProcessEnv = process.env) {
  return { url: readEnv({ TANDEM_DATABASE_URL: env.databaseUrl() }, source).TANDEM_DATABASE_URL };
}
export type DatabaseConfig = ReturnType<typeof readDatabaseConfig>;
