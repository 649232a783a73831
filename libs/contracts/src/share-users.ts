import { z } from 'zod';
import { SHARE_USER_UIDS, actorSchema, shareUserNameSchema } from './names';

/**
 * SMB share users (`tandem share user`): logins of SMB shares, the same on every node. Each is a
 * unix account of its own (the same uid everywhere, so what it writes keeps its owner when the
 * pool moves) and an NT hash that smbd checks its logins against. The password itself is never
 * stored: the api-gateway turns it into the NT hash and forgets it. Version 1.
 */

/** The NT hash of a password (MD4 of its UTF-16LE bytes), lower-case hex. */
export const ntHashSchema = z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lower-case hex digits (an NT hash)');

/** A password as the API takes it: what SMB clients send, 8 to 128 characters, no control characters. */
export const sharePasswordSchema = z
  .string()
  .min(8, 'must be at least 8 characters')
  .max(128, 'must be at most 128 characters')
  // eslint-disable-next-line no-control-regex
  .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not hold control characters');

/** One share user: the record kept in the share-users KV bucket (SHARE_USER_RECORD), by name. */
export const shareUserRecordSchema = z.object({
  name: shareUserNameSchema,
  uid: z.number().int().min(SHARE_USER_UIDS.min).max(SHARE_USER_UIDS.max),
  ntHash: ntHashSchema,
  createdAt: z.string(),
  /** When its password was last set. */
  passwordSetAt: z.string(),
  /** Who added it or last set its password. */
  by: z.string(),
});
export type ShareUserRecord = z.infer<typeof shareUserRecordSchema>;

/** A share user as operations show it: never its hash. */
export const shareUserInfoSchema = shareUserRecordSchema.omit({ ntHash: true }).extend({
  /** The SMB shares that let it in, as POOL/SHARE. */
  shares: z.array(z.string()),
});
export type ShareUserInfo = z.infer<typeof shareUserInfoSchema>;

const actor = actorSchema.default('operator');

/** Answered by the active resource-manager on tandem.cluster.rm.<operation>, like the cluster operations. */
export const shareUserOpRequests = {
  'share-user.list': z.object({}).strict(),
  'share-user.add': z.object({ name: shareUserNameSchema, ntHash: ntHashSchema, actor }).strict(),
  'share-user.password': z.object({ name: shareUserNameSchema, ntHash: ntHashSchema, actor }).strict(),
  /** Refused while an SMB share lets the user in (take it out of the share first). */
  'share-user.remove': z.object({ name: shareUserNameSchema, actor }).strict(),
} as const;

export const shareUserOpResults = {
  'share-user.list': z.array(shareUserInfoSchema),
  'share-user.add': shareUserInfoSchema,
  'share-user.password': shareUserInfoSchema,
  'share-user.remove': z.object({ name: z.string() }),
} as const satisfies Record<keyof typeof shareUserOpRequests, z.ZodTypeAny>;

export type ShareUserOperation = keyof typeof shareUserOpRequests;

/** POST /api/v1/share-users: the password goes no further than the api-gateway, which sends its NT hash on. */
export const shareUserAddBodySchema = z.object({ name: shareUserNameSchema, password: sharePasswordSchema }).strict();
/** PUT /api/v1/share-users/{name}/password. */
export const shareUserPasswordBodySchema = z.object({ password: sharePasswordSchema }).strict();
