import { createHash } from 'node:crypto';
import { utils, type ParsedKey } from 'ssh2';

/**
 * OpenSSH public keys as Tandem pins them in the cluster record: one line, `ssh-ed25519 AAAA…`
 * (a comment after the key is allowed and ignored). Keys are compared by their key data (the
 * base64 blob), never by the text around it.
 */

/** A public key line → its parsed key; null when the text is not one (or is a private key). */
export function parsePublicKey(line: string): ParsedKey | null {
  if (line.length > 16_384) return null;
  const key = utils.parseKey(line.trim());
  if (key instanceof Error || key.isPrivateKey()) return null;
  return key;
}

/** The canonical line of a key (its type and key data, no comment). */
export function publicKeyLine(key: ParsedKey): string {
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

/** The key data of a public key line, null when it is not one. */
export function keyBlob(line: string): Buffer | null {
  return parsePublicKey(line)?.getPublicSSH() ?? null;
}

/** The fingerprint OpenSSH shows (`ssh-keygen -l`): `SHA256:` and the base64 SHA-256 of the key data, unpadded. */
export function fingerprint(key: string | Buffer): string {
  const blob = typeof key === 'string' ? keyBlob(key) : key;
  if (!blob) return '(not an OpenSSH public key)';
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The first of `lines` whose key data is `blob` (null: none is). */
export function findKey(lines: readonly string[], blob: Buffer): string | null {
  for (const line of lines) {
    const b = keyBlob(line);
    if (b && b.equals(blob)) return line;
  }
  return null;
}
