import 'reflect-metadata'; // the certificate library's dependency injection needs it loaded first
import { X509Certificate as NodeX509, createHash, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

/**
 * Tandem's certificates: a cluster CA and, signed by it, one certificate per node for its NATS
 * server (client port and routes) and its API. ECDSA P-256, made in-process (no openssl on the
 * node needed). A node's certificate names the node and every address it is reached at, and
 * serves both ends of a TLS connection (routes authenticate each other with it).
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** The CA outlives any node certificate it signs. */
const CA_DAYS = 3650;
/** Below the 825 days that TLS clients accept for a server certificate. */
const NODE_DAYS = 820;

export interface KeyPair {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
}

/** Thrown for a name, an address or a file that cannot be used; `field` names what was wrong. */
export class CertificateError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'CertificateError';
  }
}

const serial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
const pemKey = async (key: CryptoKey) => x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
const cnValue = (name: string) => {
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/.test(name)) throw new CertificateError(`"${name.slice(0, 64)}" cannot name a certificate: letters, digits, space, . _ - (at most 63)`, 'name');
  return name;
};

/** A new certificate authority (self-signed, may sign node certificates only). */
export async function makeCa(name: string): Promise<KeyPair> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${cnValue(name)}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
}

/** The names a node's certificate carries, checked: the node, then each IP address or host name. */
function subjectAltNames(name: string, names: readonly string[]): x509.JsonGeneralName[] {
  cnValue(name);
  const sans: x509.JsonGeneralName[] = [];
  for (const n of new Set([name, ...names])) {
    if (isIP(n)) sans.push({ type: 'ip', value: n });
    else if (/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(n)) sans.push({ type: 'dns', value: n });
    else throw new CertificateError(`"${n.slice(0, 64)}" is neither an IP address nor a host name`, 'address');
  }
  return sans;
}

/** A node's certificate, signed by `ca`, for `name` and every address and host name in `names`. */
export async function issueCertificate(ca: KeyPair, name: string, names: readonly string[]): Promise<KeyPair> {
  const sans = subjectAltNames(name, names);
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(ca.key), ALG, false, ['sign']);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${name}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + NODE_DAYS * DAY_MS),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem'), key: await pemKey(keys.privateKey) };
}

/** SHA-256 fingerprint of a PEM certificate, as TLS tools print it (`AB:CD:…`). */
export function certificateFingerprint(pem: string): string {
  let der: Buffer;
  try {
    der = new NodeX509(pem).raw;
  } catch {
    throw new CertificateError('not a PEM certificate', 'certificate');
  }
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

/** The addresses and names a certificate is valid for. */
export function certificateNames(pem: string): string[] {
  const alt = new NodeX509(pem).subjectAltName ?? '';
  return alt
    .split(', ')
    .map((s) => s.replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
}

export interface CertificateFiles {
  ca: string;
  cert: string;
  key: string;
}

/** Where a directory of Tandem certificates keeps the CA's files (`ca.pem`, `ca.key`) and a node's (`<node>.pem`, `<node>.key`). */
export function certificateFiles(dir: string, node: string): CertificateFiles & { caKey: string } {
  if (node === 'ca') throw new CertificateError('a node named "ca" would overwrite the CA\'s files', 'node');
  return { ca: join(dir, 'ca.pem'), caKey: join(dir, 'ca.key'), cert: join(dir, `${node}.pem`), key: join(dir, `${node}.key`) };
}

const writeKey = (file: string, text: string) => {
  writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
};

/** In `dir`: the cluster CA, made when missing (key 0600), kept otherwise. */
export async function ensureCa(dir: string, caName = 'Tandem cluster CA'): Promise<{ ca: KeyPair; written: string[] }> {
  const f = certificateFiles(dir, '');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(f.ca) && existsSync(f.caKey)) return { ca: { cert: readFileSync(f.ca, 'utf8'), key: readFileSync(f.caKey, 'utf8') }, written: [] };
  if (existsSync(f.ca)) throw new CertificateError(`${f.ca} is here without its key ${f.caKey}: copy the CA's key here (or sign this node's certificate where it is)`, 'dir');
  const ca = await makeCa(caName);
  writeFileSync(f.ca, ca.cert, { mode: 0o644 });
  writeKey(f.caKey, ca.key);
  return { ca, written: [f.ca, f.caKey] };
}

/**
 * In `dir`: the cluster CA (see ensureCa) and `node`'s certificate for `names` (made when
 * missing, or when it does not name every one of them, expires within 30 days or was not signed
 * by this CA). Private keys 0600. Returns which files were written.
 */
export async function ensureNodeCertificate(dir: string, node: string, names: readonly string[], caName?: string): Promise<{ files: CertificateFiles; written: string[] }> {
  const f = certificateFiles(dir, node);
  subjectAltNames(node, names); // bad input changes nothing, not even a first CA
  const { ca, written } = await ensureCa(dir, caName);
  if (existsSync(f.cert) && existsSync(f.key) && validFor(readFileSync(f.cert, 'utf8'), ca.cert, [node, ...names])) return { files: f, written };
  const leaf = await issueCertificate(ca, node, names);
  writeFileSync(f.cert, leaf.cert, { mode: 0o644 });
  writeKey(f.key, leaf.key);
  written.push(f.cert, f.key);
  return { files: f, written };
}

function validFor(pem: string, caPem: string, names: readonly string[]): boolean {
  try {
    const cert = new NodeX509(pem);
    const ca = new NodeX509(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    if (new Date(cert.validTo).getTime() - Date.now() < 30 * DAY_MS) return false;
    const have = new Set(certificateNames(pem));
    return names.every((n) => have.has(n));
  } catch {
    return false;
  }
}
