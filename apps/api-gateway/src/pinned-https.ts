import { request } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';

/** What the peer's certificate turned out to be, when it is not the one pinned (or none was pinned). */
export class PinMismatch extends Error {
  constructor(
    readonly presented: string,
    readonly pinned: string | undefined,
  ) {
    super(pinned ? `presented certificate SHA-256 ${presented}, not the pinned ${pinned}` : `presented certificate SHA-256 ${presented}, and none was pinned`);
    this.name = 'PinMismatch';
  }
}

/** `AB:CD:…` upper case: how fingerprints are compared. */
export function normalizeFingerprint(fp: string): string {
  return fp.trim().toUpperCase();
}

/**
 * A TLS connection whose certificate is judged by its SHA-256 fingerprint alone (a node's API
 * certificate is its own, signed by nobody the caller knows): nothing is sent before the
 * fingerprint matched `pin`; otherwise PinMismatch, the connection closed.
 */
function pinnedSocket(host: string, port: number, pin: string | undefined, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // the certificate is checked below, by its fingerprint: no chain of trust to check
    const socket = connect({ host, port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const presented = normalizeFingerprint(socket.getPeerCertificate().fingerprint256 ?? '');
      if (!pin || presented !== normalizeFingerprint(pin)) {
        socket.destroy();
        reject(new PinMismatch(presented, pin));
        return;
      }
      resolve(socket);
    });
  });
}

/** One HTTPS request to `host:port` whose certificate has the fingerprint `pin`; the answer's status and text. */
export async function pinnedRequest(opts: {
  host: string;
  port: number;
  path: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  pin: string | undefined;
}): Promise<{ status: number; text: string }> {
  const deadline = Date.now() + opts.timeoutMs;
  const socket = await pinnedSocket(opts.host, opts.port, opts.pin, opts.timeoutMs);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: opts.host,
        port: opts.port,
        path: opts.path,
        method: opts.method,
        headers: { ...opts.headers, 'content-length': String(Buffer.byteLength(opts.body)), connection: 'close' },
        createConnection: () => socket,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(Math.max(1, deadline - Date.now()), () => req.destroy(Object.assign(new Error('timeout'), { name: 'TimeoutError' })));
    req.on('error', reject);
    req.end(opts.body);
  });
}
