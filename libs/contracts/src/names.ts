import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Name rules shared by every door into Tandem. A value that fails here never reaches a
 * command line. ZFS rules: a component starts with a letter or digit (pools: a letter) and
 * holds only [A-Za-z0-9_.:-]; pool names may not be reserved vdev words.
 */
const ZFS_COMPONENT = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$/;
const RESERVED_POOL = /^(mirror|raidz\d?|spare|log|cache|c\d.*)$/;

export const poolNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[A-Za-z][A-Za-z0-9_.:-]*$/, 'must start with a letter and hold only letters, digits, _ . : -')
  .refine((v) => !RESERVED_POOL.test(v), 'is a reserved ZFS word');

export const datasetNameSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .refine((v) => {
    const parts = v.split('/');
    return poolNameSchema.safeParse(parts[0]).success && parts.slice(1).every((p) => ZFS_COMPONENT.test(p));
  }, 'must be POOL or POOL/NAME/..., each part letters, digits, _ . : -');

export const snapshotShortNameSchema = z.string().regex(ZFS_COMPONENT, 'must hold only letters, digits, _ . : - and start with a letter or digit');

export const snapshotNameSchema = z
  .string()
  .max(255, 'must be at most 255 characters')
  .refine((v) => {
    const at = v.indexOf('@');
    if (at <= 0 || v.indexOf('@', at + 1) !== -1) return false;
    return datasetNameSchema.safeParse(v.slice(0, at)).success && ZFS_COMPONENT.test(v.slice(at + 1));
  }, 'must be DATASET@SNAPSHOT');

export const holdTagSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'must be 1-64 letters, digits, _ . : -');

export const nodeIdSchema = z.string().regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$/, 'must be lowercase letters, digits and -, starting with a letter');

/** Linux interface names: 1-15 chars, no '/', whitespace or ':' (aliases are not interfaces). */
export const interfaceNameSchema = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/, 'must be a Linux interface name (1-15 letters, digits, _ . -)');

export const ipAddressSchema = z.string().refine((v) => isIP(v) !== 0, 'must be an IPv4 or IPv6 address');

export const prefixLengthSchema = z.number().int('must be a whole number').min(1).max(128);

/** ADDRESS/PREFIX with the prefix valid for the address family. */
export const cidrSchema = z.string().refine((v) => parseCidr(v) !== null, 'must be ADDRESS/PREFIX, e.g. 10.0.0.5/24');

export function parseCidr(v: string): { address: string; prefix: number; family: 4 | 6 } | null {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(v);
  if (!m) return null;
  const family = isIP(m[1]);
  const prefix = Number(m[2]);
  if (family === 4 && prefix >= 1 && prefix <= 32) return { address: m[1], prefix, family: 4 };
  if (family === 6 && prefix >= 1 && prefix <= 128) return { address: m[1], prefix, family: 6 };
  return null;
}

export const shareNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ -');

/** A LUN of a pool: also the name of its zvol (POOL/NAME) or backing file. */
export const lunNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ -, starting with a letter or digit');

/** Accounts a share user may never be: they exist on every node and mean something else there. */
export const RESERVED_SHARE_USERS: readonly string[] = [
  'root',
  'nobody',
  'daemon',
  'bin',
  'sys',
  'sync',
  'games',
  'man',
  'lp',
  'mail',
  'news',
  'uucp',
  'proxy',
  'www-data',
  'backup',
  'list',
  'irc',
  'gnats',
  'systemd-network',
  'systemd-resolve',
  'messagebus',
  'sshd',
  'postgres',
  'nats',
  'tandem',
];

/**
 * A share user: the name of an SMB login and of the unix account it acts as on every node
 * (lower-case letters, digits, _ and -, starting with a letter or _, at most 32: what useradd takes everywhere).
 */
export const shareUserNameSchema = z
  .string()
  .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be 1-32 lower-case letters, digits, _ -, starting with a letter or _')
  .refine(
    (v) => !RESERVED_SHARE_USERS.includes(v),
    (v) => ({ message: `"${v}" is a system account on every node: pick another name` }),
  );

/** The unix ids share users get, the same on every node (so files keep their owner across a failover). */
export const SHARE_USER_UIDS = { min: 20_000, max: 59_999 } as const;

/** A file name inside the device directory (a vdev of the shared JBOD). */
export const vdevFileNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a plain file name');

/** An absolute path with no traversal, control characters or shell/config metacharacters. */
export const safePathSchema = z
  .string()
  .regex(/^\/[A-Za-z0-9_./:@+-]*$/, 'must be an absolute path of letters, digits and _ . / : @ + -')
  .refine((v) => !v.split('/').includes('..'), 'must not contain ..');

/** The most disks a pool's record and an import request name (a pool of a full JBOD's disks, with room). */
export const POOL_DEVICES_MAX = 1024;
/** Where a pool's disks were found: their paths, as many as a pool has. */
export const poolDevicesSchema = z.array(safePathSchema).min(1).max(POOL_DEVICES_MAX);

/** Who asked, as recorded in the activity log (`cli:alice@host1`, `api@node-a`, `demo`): no spaces, no shell characters. */
export const actorSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,63}$/, 'must be 1-64 letters, digits, _ . : @ + -');

/**
 * The highest fencing epoch a request may carry. Epochs grow by one per move or failover (a
 * billion is decades of one a second): a request beyond it is forged or corrupt, and accepted it
 * would make every later epoch look stale to the node that recorded it.
 */
export const MAX_EPOCH = 1_000_000_000;
export const epochSchema = z.number().int('must be a whole number').min(0).max(MAX_EPOCH, `must be at most ${MAX_EPOCH} (epochs grow by one per move or failover)`);
