import { isIP } from 'node:net';
import { parseCidr } from '@tandem/contracts';
import { ShareError } from './errors';
import { SHARE_PROTOCOLS, ShareProtocol, ShareSpec } from './types';

/** ZFS-like pool name; also used as a directory name under the state directory. */
export const POOL_NAME_RE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
/** Share names are safe as an smb.conf section name and as an NFS pseudo path component. */
export const SHARE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/**
 * Characters allowed in a share path. Deliberately narrow: nothing that smb.conf or
 * ganesha.conf would interpret (`%` macros, quotes, `;`/`#` comments, braces, `\`
 * continuations, whitespace, newlines) and nothing a shell would (`$`, backticks).
 */
const PATH_CHARS_RE = /^[A-Za-z0-9_.:@+,=/-]+$/;
const MAX_PATH = 1024;
const MAX_ADDRESSES = 16;
const MAX_CLIENTS = 32;
/** Section names Samba reserves. */
const RESERVED_SHARE_NAMES = new Set(['global', 'homes', 'printers']);

function invalid(field: string, message: string): never {
  throw new ShareError('INVALID_ARGUMENT', `${field}: ${message}`, field);
}

export function validatePoolName(pool: unknown): string {
  if (typeof pool !== 'string' || !POOL_NAME_RE.test(pool)) {
    invalid('pool', `invalid pool name ${JSON.stringify(pool)} (letters, digits, _ . : -, starting with a letter, at most 64)`);
  }
  return pool;
}

export function validateShareName(name: unknown): string {
  if (typeof name !== 'string' || !SHARE_NAME_RE.test(name)) {
    invalid('name', `invalid share name ${JSON.stringify(name)} (letters, digits, _ -, at most 64)`);
  }
  if (RESERVED_SHARE_NAMES.has(name.toLowerCase())) invalid('name', `share name ${JSON.stringify(name)} is reserved`);
  return name;
}

export function validateProtocol(protocol: unknown): ShareProtocol {
  if (typeof protocol !== 'string' || !(SHARE_PROTOCOLS as readonly string[]).includes(protocol)) {
    invalid('protocol', `unknown protocol ${JSON.stringify(protocol)} (smb or nfs)`);
  }
  return protocol as ShareProtocol;
}

export function validatePath(path: unknown): string {
  if (typeof path !== 'string' || path.length === 0) invalid('path', 'path must be a non-empty string');
  if (path.length > MAX_PATH) invalid('path', `path longer than ${MAX_PATH} characters`);
  if (!path.startsWith('/')) invalid('path', `path ${JSON.stringify(path)} is not absolute`);
  if (!PATH_CHARS_RE.test(path)) {
    invalid('path', `path ${JSON.stringify(path)} contains characters not allowed in a share path (allowed: letters, digits, _ . : @ + , = / -)`);
  }
  if (path === '/') invalid('path', 'refusing to share the root directory');
  const parts = path.slice(1).split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) {
    invalid('path', `path ${JSON.stringify(path)} must be normalized (no empty, . or .. components, no trailing /)`);
  }
  return path;
}

/** Canonical text form (IPv6 compressed, lower-case) so that equal addresses compare equal. */
export function canonicalAddress(a: string): string {
  if (isIP(a) !== 6) return a;
  return new URL(`http://[${a}]/`).hostname.replace(/^\[|\]$/g, '');
}

/** Validates and normalizes (lower-case, de-duplicated, sorted) a list of IP addresses. */
export function validateAddresses(addresses: unknown): string[] {
  if (!Array.isArray(addresses) || addresses.length === 0) invalid('addresses', 'at least one address is required');
  if (addresses.length > MAX_ADDRESSES) invalid('addresses', `at most ${MAX_ADDRESSES} addresses`);
  const out = new Set<string>();
  for (const a of addresses) {
    if (typeof a !== 'string' || a.includes('%') || isIP(a) === 0) {
      invalid('addresses', `${JSON.stringify(a)} is not a valid IPv4 or IPv6 address`);
    }
    if (isIP(a) === 6 && /^fe[89ab]/i.test(a)) invalid('addresses', `${JSON.stringify(a)}: link-local addresses cannot be share addresses`);
    out.add(canonicalAddress(a));
  }
  return [...out].sort();
}

/** Checks a whole spec before anything runs; returns a normalized copy. */
export function validateShareSpec(spec: unknown): Required<ShareSpec> {
  if (typeof spec !== 'object' || spec === null) invalid('spec', 'spec must be an object');
  const s = spec as Partial<ShareSpec>;
  const pool = validatePoolName(s.pool);
  const name = validateShareName(s.name);
  const protocol = validateProtocol(s.protocol);
  const path = validatePath(s.path);
  const addresses = validateAddresses(s.addresses);
  if (s.readOnly !== undefined && typeof s.readOnly !== 'boolean') invalid('readOnly', 'readOnly must be a boolean');
  if (s.rootSquash !== undefined && typeof s.rootSquash !== 'boolean') invalid('rootSquash', 'rootSquash must be a boolean');
  const clients = validateClients(s.clients);
  const users = validateUsers(s.users);
  if (protocol === 'nfs' && users.length > 0) invalid('users', 'an NFS share has no users: limit it by client networks');
  if (protocol === 'nfs' && addresses.length !== 1) {
    invalid('addresses', 'NFS-Ganesha binds exactly one address per instance: give one floating IP for an NFS share');
  }
  return { pool, name, protocol, path, addresses, readOnly: s.readOnly ?? false, clients, rootSquash: s.rootSquash ?? true, users };
}

/** Unix account names a share lets in (what smb.conf's `valid users` takes unquoted): de-duplicated and sorted. */
export const SHARE_USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
export function validateUsers(users: unknown): string[] {
  if (users === undefined) return [];
  if (!Array.isArray(users)) invalid('users', 'users must be a list of user names');
  if (users.length > 64) invalid('users', 'at most 64 users');
  for (const u of users) if (typeof u !== 'string' || !SHARE_USER_RE.test(u) || u === 'root') invalid('users', `${JSON.stringify(u)} is not a share user name`);
  return [...new Set(users as string[])].sort();
}

/** Client networks: ADDRESS/PREFIX each, the address the network's own (host bits zero is not required), de-duplicated and sorted. */
export function validateClients(clients: unknown): string[] {
  if (clients === undefined) return [];
  if (!Array.isArray(clients)) invalid('clients', 'clients must be a list of ADDRESS/PREFIX');
  if (clients.length > MAX_CLIENTS) invalid('clients', `at most ${MAX_CLIENTS} client networks`);
  const out = new Set<string>();
  for (const c of clients) {
    const cidr = typeof c === 'string' ? parseCidr(c) : null;
    if (!cidr || cidr.address.includes('%')) invalid('clients', `${JSON.stringify(c)} is not ADDRESS/PREFIX (e.g. 10.0.0.0/24)`);
    out.add(`${canonicalAddress(cidr.address)}/${cidr.prefix}`);
  }
  return [...out].sort();
}
