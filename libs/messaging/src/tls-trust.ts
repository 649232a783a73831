import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector, type Dispatcher } from 'undici';

/** A certificate other than the one pinned (or none was pinned): the connection was closed before anything was sent. */
export class PinMismatch extends Error {
  readonly code = 'CERT_FINGERPRINT_MISMATCH';
  constructor(
    readonly presented: string,
    readonly pinned: string | undefined,
  ) {
    super(pinned ? `presented certificate SHA-256 ${presented}, not the pinned ${pinned}` : `presented certificate SHA-256 ${presented}, and none was pinned`);
    this.name = 'PinMismatch';
  }
}

/**
 * HTTPS (fetch's `dispatcher`) to a server whose certificate is judged by its SHA-256
 * fingerprint alone (a node's own certificate, signed by nobody the caller knows): the chain is
 * not checked, the fingerprint is, before any request goes out; another one (or none pinned)
 * fails the request with PinMismatch as its cause.
 */
export function pinnedDispatcher(pin: string | undefined): Dispatcher {
  // no resumed TLS sessions: a resumed one shows no certificate, and every connection must show it
  const connector = buildConnector({ rejectUnauthorized: false, maxCachedSessions: 0 });
  const want = pin?.trim().toUpperCase();
  return new Agent({
    connect: (opts, cb) =>
      connector(opts, (err, socket) => {
        if (err || !socket) return cb(err ?? new Error('no connection'), null);
        const presented = ((socket as TLSSocket).getPeerCertificate?.().fingerprint256 ?? '(not TLS)').toUpperCase();
        if (presented !== want) {
          socket.destroy();
          return cb(new PinMismatch(presented, pin), null);
        }
        cb(null, socket);
      }),
  });
}

/** HTTPS to servers whose certificates `ca` signed, or to the one certificate `fingerprint` names. */
export function trustDispatcher(trust: { ca: string } | { fingerprint: string }): Dispatcher {
  return 'ca' in trust ? new Agent({ connect: { ca: trust.ca } }) : pinnedDispatcher(trust.fingerprint);
}
