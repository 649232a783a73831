import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { newNkeySeed, nkeyPublicKey } from '@tandem/messaging';
import { NATS_ROUTE_SECRET_RE, SERVICE_NAMES, integratorPermissions, natsAuthorization, natsUserName, nodeIdSchema, serviceUsers, type NatsUser } from '@tandem/contracts';

/**
 * A node's NATS identities for a production deployment, made where the node runs:
 * `tandem nats keys --node NODE --dir DIR` writes one seed per service (`<service>.seed`, mode
 * 0600: the service's TANDEM_NATS_SEED_FILE) and `public-keys.json` (no secret: copied to the
 * other nodes). `tandem nats authorization public-keys.json ...` prints the servers'
 * `authorization` block from every node's public keys; every server of the cluster includes it.
 * The testbed makes its keys and configuration with the same functions.
 */
export const publicKeysSchema = z
  .object({
    node: nodeIdSchema,
    keys: z.record(z.string().regex(/^U[A-Z2-7]{55}$/, 'must be an nkey user public key')),
  })
  .strict();
export type PublicKeys = z.infer<typeof publicKeysSchema>;

/** Thrown for a file that cannot be used; `field` names what was wrong. */
export class NatsKeysError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'NatsKeysError';
  }
}

/** Make the node's five seeds in `dir` (kept when present: a second run changes nothing) and its public-keys.json. */
export function makeNodeKeys(node: string, dir: string): { created: string[]; kept: string[]; publicKeys: PublicKeys } {
  nodeIdSchema.parse(node);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  const kept: string[] = [];
  const keys: Record<string, string> = {};
  for (const service of SERVICE_NAMES) {
    const file = join(dir, `${service}.seed`);
    if (existsSync(file)) kept.push(file);
    else {
      writeFileSync(file, `${newNkeySeed()}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
      created.push(file);
    }
    try {
      keys[natsUserName(service, node)] = nkeyPublicKey(readFileSync(file, 'utf8'));
    } catch {
      throw new NatsKeysError(`${file} does not hold an nkey seed: remove it and run this again to make a new one`, 'dir');
    }
  }
  const publicKeys: PublicKeys = { node, keys };
  writeFileSync(join(dir, 'public-keys.json'), `${JSON.stringify(publicKeys, null, 2)}\n`, { mode: 0o644 });
  return { created, kept, publicKeys };
}

function readPublicKeys(file: string): PublicKeys {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new NatsKeysError(`${file}: cannot be read as JSON (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'public-keys');
  }
  const r = publicKeysSchema.safeParse(raw);
  if (!r.success) throw new NatsKeysError(`${file}: not a node's public-keys.json (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message})`, 'public-keys');
  for (const service of SERVICE_NAMES) {
    if (!r.data.keys[natsUserName(service, r.data.node)]) throw new NatsKeysError(`${file}: no key for ${natsUserName(service, r.data.node)}`, 'public-keys');
  }
  return r.data;
}

/**
 * The servers' authorization block from every node's public-keys.json, with optional
 * operator (unrestricted) and integrator (events only) public keys.
 */
export function authorizationFrom(files: readonly string[], extra: { operator?: string; integrator?: string } = {}): string {
  if (files.length === 0) throw new NatsKeysError('give the public-keys.json of every node', 'public-keys');
  const all = files.map(readPublicKeys);
  const nodes = all.map((k) => k.node);
  const twice = nodes.find((n, i) => nodes.indexOf(n) !== i);
  if (twice) throw new NatsKeysError(`node ${twice} is given twice`, 'public-keys');
  const byNode = new Map(all.map((k) => [k.node, k.keys]));
  const users: NatsUser[] = serviceUsers(nodes, (service, node) => byNode.get(node)![natsUserName(service, node)]!);
  const userKey = z.string().regex(/^U[A-Z2-7]{55}$/, 'must be an nkey user public key (U…)');
  for (const [name, key] of Object.entries(extra)) {
    if (key === undefined) continue;
    const k = userKey.safeParse(key);
    if (!k.success) throw new NatsKeysError(`--${name} ${key}: ${k.error.issues[0]?.message}`, name);
    users.push({ name, nkey: key, permissions: name === 'integrator' ? integratorPermissions() : null });
  }
  return `# written by tandem nats authorization for ${nodes.join(', ')}: include it in every server's configuration\n${natsAuthorization(users)}\n`;
}

/**
 * A new secret for the servers' routes (TANDEM_NATS_ROUTE_SECRET): `r` and 48 hex digits, 192
 * random bits. It begins with a letter, so nats-server reads it as a string, never as a number.
 */
export function newRouteSecret(): string {
  const secret = `r${randomBytes(24).toString('hex')}`;
  if (!NATS_ROUTE_SECRET_RE.test(secret)) throw new Error(`made a route secret that breaks its own rule: ${secret.length} characters`);
  return secret;
}
