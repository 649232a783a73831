import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { certificateFingerprint, ensureNodeCertificate } from '@tandem/messaging';
import type { GatewayConfig } from './config';

const WILDCARD = new Set(['0.0.0.0', '::']);

/** The addresses the API is reached at: those it binds, or (bound to every address) every address the node has now. */
export function apiAddresses(bind: readonly string[] | undefined): string[] {
  const given = (bind ?? []).filter((a) => !WILDCARD.has(a));
  if (bind && given.length === bind.length) return given;
  const all = Object.values(networkInterfaces())
    .flat()
    .filter((i): i is NonNullable<typeof i> => !!i && !i.address.startsWith('fe80:'))
    .map((i) => i.address);
  return [...new Set([...given, ...all])];
}

/**
 * The API's HTTPS certificate: the operator's (TANDEM_API_CERT_FILE and TANDEM_API_KEY_FILE),
 * else one made at first start under the state directory (`api-tls/`: a CA of this node's own
 * and the node's certificate for its addresses; made anew when an address is added) and kept.
 * A peer joining through this node pins its SHA-256 fingerprint.
 */
export async function apiCertificate(cfg: GatewayConfig, stateDir: string, nodeId: string): Promise<{ cert: string; key: string; fingerprint: string; made: boolean }> {
  if (cfg.certificate) return { ...cfg.certificate, fingerprint: certificateFingerprint(cfg.certificate.cert), made: false };
  const dir = join(stateDir, 'api-tls');
  const r = await ensureNodeCertificate(dir, nodeId, ['127.0.0.1', 'localhost', ...apiAddresses(cfg.bind)], `Tandem API of ${nodeId}`);
  const cert = readFileSync(r.files.cert, 'utf8');
  return { cert, key: readFileSync(r.files.key, 'utf8'), fingerprint: certificateFingerprint(cert), made: r.written.length > 0 };
}
