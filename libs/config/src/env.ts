import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ipAddressSchema, nodeIdSchema } from '@tandem/contracts';

/** A configuration value that is missing or malformed. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
  ) {
    super(`configuration: ${variable} ${expected}`);
    this.name = 'ConfigError';
  }
}

export type EnvShape = Record<string, z.ZodTypeAny>;

/**
 * A variable's value, or the contents of the file named by `<NAME>_FILE` (its trailing line
 * break dropped): the convention of container secrets, so that a secret need not sit in the
 * environment of every process. Both set is an error; so is a file that cannot be read.
 */
function rawValue(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (file === undefined || file === '') return direct;
  if (direct !== undefined && direct !== '') throw new ConfigError(name, `is given twice: set ${name} or ${name}_FILE, not both`);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new ConfigError(`${name}_FILE`, `names ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * Read and validate the environment variables named by `shape` (each also from a file named by
 * `<NAME>_FILE`). The first bad one throws a ConfigError naming the variable and what it
 * expects. Secret values are never echoed.
 */
export function readEnv<S extends EnvShape>(shape: S, env: NodeJS.ProcessEnv = process.env): { [K in keyof S]: z.output<S[K]> } {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(shape)) {
    const raw = rawValue(name, env);
    const parsed = schema.safeParse(raw === '' ? undefined : raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const desc = schema.description ? ` (${schema.description})` : '';
      const expected = raw === undefined || raw === '' ? `is required${desc}` : `is malformed: ${issue?.message ?? 'invalid'}${desc}`;
      throw new ConfigError(name, expected);
    }
    out[name] = parsed.data;
  }
  return out as { [K in keyof S]: z.output<S[K]> };
}

/** Run `fn`; on a ConfigError print its one line and stop the process. */
export function loadConfigOrExit<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}

export const env = {
  nodeId: () => nodeIdSchema.describe('a node id such as node-a'),
  /** Addresses to listen on, comma-separated (`127.0.0.1, 10.77.2.11`). */
  addressList: () =>
    z
      .string()
      // an address given twice is listened on once (a second listen on it would fail)
      .transform((v) => [...new Set(v.split(',').map((a) => a.trim()))])
      .pipe(z.array(ipAddressSchema).min(1).max(16)),
  natsUrl: () =>
    z
      .string()
      .regex(/^(nats|tls):\/\/[^\s,]+(,(nats|tls):\/\/[^\s,]+)*$/, 'must be nats://HOST:PORT (comma-separated for several)')
      .describe('e.g. nats://127.0.0.1:4222'),
  databaseUrl: () =>
    z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL')
      .describe('e.g. postgres://user@host:5432/db'),
  port: (def: number) => z.coerce.number().int().min(1).max(65535).default(def).describe('a TCP port 1-65535'),
  absPath: (def?: string) => {
    const s = z.string().regex(/^\/\S*$/, 'must be an absolute path');
    return (def === undefined ? s : s.default(def)).describe('an absolute path');
  },
  millis: (def: number) => z.coerce.number().int().min(1).max(86_400_000).default(def).describe('milliseconds'),
  optionalUrl: () => z.string().url('must be a URL').optional(),
  clusterId: () =>
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits, -')
      .default('tandem'),
  logLevel: () => z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
  oneOf: <const T extends readonly [string, ...string[]]>(values: T, def: T[number]) =>
    z
      .enum(values)
      .default(def as never)
      .describe(`one of ${values.join(', ')}`),
};
