import { md4 } from 'hash-wasm';

/**
 * The NT hash of a password: MD4 of its UTF-16LE bytes, what SMB logins are checked against. MD4
 * is not in this runtime's crypto (OpenSSL 3 keeps it in the legacy provider), so it comes from a
 * WebAssembly build.
 */
export async function ntHash(password: string): Promise<string> {
  return md4(Buffer.from(password, 'utf16le'));
}
