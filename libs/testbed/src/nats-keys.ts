import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { nkeyAuthenticator, type Authenticator } from 'nats';
import { integratorPermissions, natsUserName, serviceUsers, type NatsUser, type ServiceName } from '@tandem/contracts';
import { certificateFiles, ensureCa, ensureNodeCertificate, newNkeySeed, nkeyPublicKey } from '@tandem/messaging';
import type { NodeSpec, Paths } from './layout';
import { secretFile } from './secret-files';

/**
 * The testbed's NATS identities, made once per testbed (files of mode 0600 under its root, gone
 * with `down`): an nkey per service and node, one for the tests and tools that watch and drive
 * the cluster from outside (no restriction), one for an integrator (events only), and the
 * secret the servers' routes authenticate with.
 */
const dirOf = (root: string) => path.join(root, 'nats-keys');

/** The seed file of one identity (made when missing). */
export function natsSeedFile(root: string, identity: string): string {
  return secretFile(dirOf(root), `${identity}.seed`, () => `${newNkeySeed()}\n`);
}

function seedOf(root: string, identity: string): string {
  return fs.readFileSync(natsSeedFile(root, identity), 'utf8').trim();
}

function publicKeyOf(root: string, identity: string): string {
  return nkeyPublicKey(seedOf(root, identity));
}

export const OBSERVER_IDENTITY = 'observer';
export const INTEGRATOR_IDENTITY = 'integrator';

/** The seed file a service of a node connects with (its TANDEM_NATS_SEED_FILE). */
export function serviceSeedFile(paths: Paths, service: ServiceName, node: string): string {
  return natsSeedFile(paths.root, natsUserName(service, node));
}

/** Every identity the testbed's servers accept. */
export function testbedNatsUsers(paths: Paths, storageNodes: readonly string[]): NatsUser[] {
  return [
    ...serviceUsers(storageNodes, (service, node) => publicKeyOf(paths.root, natsUserName(service, node))),
    { name: OBSERVER_IDENTITY, nkey: publicKeyOf(paths.root, OBSERVER_IDENTITY), permissions: null },
    { name: INTEGRATOR_IDENTITY, nkey: publicKeyOf(paths.root, INTEGRATOR_IDENTITY), permissions: integratorPermissions() },
  ];
}

/** Identity by public key, of the seeds made so far (none is made here). */
export function knownNatsIdentities(root: string): Map<string, string> {
  const names = new Map<string, string>();
  let files: string[] = [];
  try {
    files = fs.readdirSync(dirOf(root)).filter((f) => f.endsWith('.seed'));
  } catch {
    return names;
  }
  for (const f of files) {
    try {
      names.set(nkeyPublicKey(fs.readFileSync(path.join(dirOf(root), f), 'utf8')), f.slice(0, -'.seed'.length));
    } catch {
      /* not a seed: its key is shown as it is */
    }
  }
  return names;
}

/** The password the servers' routes present to each other (made once). */
export function routeSecret(paths: Paths): string {
  return fs
    .readFileSync(
      secretFile(dirOf(paths.root), 'route-secret', () => randomBytes(24).toString('hex')),
      'utf8',
    )
    .trim();
}

/** How a test, a benchmark or the demo authenticates to the testbed's NATS: as `identity` (default: the observer, unrestricted). */
export function testbedNatsAuthenticator(root: string, identity: string = OBSERVER_IDENTITY): Authenticator {
  return nkeyAuthenticator(new TextEncoder().encode(seedOf(root, identity)));
}

const tlsDirOf = (root: string) => path.join(root, 'nats-tls');
const caMade = new Map<string, Promise<unknown>>();

/** Forgets that the CA was made (after `down` removed it: the next `up` makes a new one). */
export function forgetTestbedCa(root: string): void {
  caMade.delete(tlsDirOf(root));
}

/**
 * The testbed's certificates, made as production's are (`tandem nats certs`): one CA per testbed
 * (made once, however many servers start at the same time) and a certificate per NATS server
 * naming the node, loopback and each of its addresses. Returns the server's files.
 */
export async function testbedNatsCertificate(paths: Paths, spec: NodeSpec): Promise<{ ca: string; cert: string; key: string }> {
  const dir = tlsDirOf(paths.root);
  if (!caMade.has(dir)) caMade.set(dir, ensureCa(dir, 'Tandem testbed CA'));
  await caMade.get(dir);
  const addresses = Object.values(spec.addresses).filter((a): a is string => a !== null);
  return (await ensureNodeCertificate(dir, spec.name, ['127.0.0.1', 'localhost', ...addresses])).files;
}

/** A node's certificate and key (made at up with its NATS server's): its api-gateway serves HTTPS with them too. */
export function testbedNodeCertificate(root: string, node: string): { cert: string; key: string } {
  const f = certificateFiles(tlsDirOf(root), node);
  return { cert: f.cert, key: f.key };
}

/** The CA file every client of the testbed's NATS and APIs trusts (its TANDEM_NATS_CA_FILE). */
export function testbedNatsCaFile(root: string): string {
  return certificateFiles(tlsDirOf(root), '').ca;
}

/** How a test, a benchmark or the demo connects to the testbed's NATS: as `identity` (default: the observer, unrestricted), over TLS. */
export function testbedNatsOptions(root: string, identity: string = OBSERVER_IDENTITY): { authenticator: Authenticator; tls: { ca: string } } {
  return { authenticator: testbedNatsAuthenticator(root, identity), tls: { ca: fs.readFileSync(testbedNatsCaFile(root), 'utf8') } };
}
