import { nkeys } from 'nats';

/** A new NATS user nkey seed (SU…): the secret a service, a tool or an integrator connects with. */
export function newNkeySeed(): string {
  return new TextDecoder().decode(nkeys.createUser().getSeed());
}

/** The public key (U…) of a user seed, which the servers' authorization names; throws if `seed` is not one. */
export function nkeyPublicKey(seed: string): string {
  return nkeys.fromSeed(new TextEncoder().encode(seed.trim())).getPublicKey();
}
