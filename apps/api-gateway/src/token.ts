import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * API tokens: `tdm1.<claims>.<signature>`, claims base64url JSON `{sub, iat, exp}` (seconds),
 * signature HMAC-SHA256 over `tdm1.<claims>` with a key derived from the cluster secret. Every
 * node holds the same secret, so any node's gateway verifies any node's token; changing the
 * secret revokes every token.
 */
const VERSION = 'tdm1';
const MAX_TOKEN_LENGTH = 2048;

export interface TokenClaims {
  sub: string;
  /** Issued at, seconds since the epoch. */
  iat: number;
  /** Expires at, seconds since the epoch. */
  exp: number;
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired'; expiredAt?: Date };

function signingKey(secret: string): Buffer {
  // Domain separation: the cluster secret may sign other things one day.
  return createHmac('sha256', secret).update('tandem/api-token/v1').digest();
}

function mac(secret: string, data: string): Buffer {
  return createHmac('sha256', signingKey(secret)).update(data).digest();
}

export function signToken(secret: string, subject: string, ttlMs: number, now = Date.now()): { token: string; expiresAt: Date; claims: TokenClaims } {
  const iat = Math.floor(now / 1000);
  const exp = Math.floor((now + ttlMs) / 1000);
  const claims: TokenClaims = { sub: subject, iat, exp };
  const body = `${VERSION}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return { token: `${body}.${mac(secret, body).toString('base64url')}`, expiresAt: new Date(exp * 1000), claims };
}

export function verifyToken(secret: string, token: string, now = Date.now()): TokenCheck {
  if (token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !/^[A-Za-z0-9_-]+$/.test(parts[1]) || !/^[A-Za-z0-9_-]+$/.test(parts[2])) {
    return { ok: false, reason: 'malformed' };
  }
  const expected = mac(secret, `${parts[0]}.${parts[1]}`);
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const c = claims as Partial<TokenClaims>;
  if (typeof c !== 'object' || c === null || typeof c.sub !== 'string' || !Number.isInteger(c.iat) || !Number.isInteger(c.exp)) {
    return { ok: false, reason: 'malformed' };
  }
  if ((c.exp as number) * 1000 <= now) return { ok: false, reason: 'expired', expiredAt: new Date((c.exp as number) * 1000) };
  return { ok: true, claims: c as TokenClaims };
}

/**
 * A token issued at or before the revocation time is revoked. Issue times are whole seconds: a
 * token of the revocation's own second counts as revoked, whether it came before or after it.
 */
export function isRevoked(claims: TokenClaims, revokedBefore: Date | null): boolean {
  return revokedBefore !== null && claims.iat * 1000 <= revokedBefore.getTime();
}

/** How long to wait before issuing a token that a revocation at `revokedBefore` does not cover (0: none). */
export function waitBeforeIssuing(revokedBefore: Date | null, now = Date.now()): number {
  if (revokedBefore === null) return 0;
  const firstClean = (Math.floor(revokedBefore.getTime() / 1000) + 1) * 1000;
  return Math.max(0, firstClean - now);
}

/** Compare a given password with the expected one in constant time (digests of equal length). */
export function passwordMatches(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}
