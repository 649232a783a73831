import { connect, headers as natsHeaders, nkeyAuthenticator, type MsgHdrs, type NatsConnection } from 'nats';
import { context, propagation, type Context } from '@opentelemetry/api';

export interface NatsOptions {
  servers: string;
  name: string;
  /** How long the first connection may take before giving up. */
  connectTimeoutMs?: number;
  /** The nkey user seed (SU…) the connection authenticates with; none: anonymous. */
  seed?: string;
  /** PEM of the CA that signed the servers' certificates: the connection is TLS and the server's certificate is verified. */
  ca?: string;
}

/** How a server says it does not accept the connection's identity. */
const AUTH_REFUSED = /authorization violation|authentication/i;
/** How a TLS handshake fails: not worth asking again either. */
const TLS_PROBLEM = /tls|certificate|self.signed|altname|secure connection/i;

/** Connect, retrying until `connectTimeoutMs`; afterwards the client reconnects forever. */
export async function connectNats(opts: NatsOptions): Promise<NatsConnection> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? 30_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await connect({
        servers: opts.servers.split(','),
        name: opts.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        pingInterval: 5_000,
        timeout: 2_000,
        ...(opts.seed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(opts.seed)) } : {}),
        ...(opts.ca ? { tls: { ca: opts.ca } } : {}),
      });
    } catch (err) {
      lastError = err;
      // a refused identity does not get better by asking again
      if (AUTH_REFUSED.test((err as Error).message) || TLS_PROBLEM.test((err as Error).message)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const why = (lastError as Error)?.message ?? 'timeout';
  if (AUTH_REFUSED.test(why)) {
    throw new Error(`NATS at ${opts.servers} refused ${opts.name}: ${why} — check TANDEM_NATS_SEED(_FILE): its public key must be among the servers' users`);
  }
  if (TLS_PROBLEM.test(why)) {
    throw new Error(
      `NATS at ${opts.servers}: ${why} — ${opts.ca ? "the server's certificate is not signed by TANDEM_NATS_CA(_FILE), or does not name the address in TANDEM_NATS_URL" : 'the server requires TLS: give the cluster CA in TANDEM_NATS_CA_FILE'}`,
    );
  }
  throw new Error(`cannot reach NATS at ${opts.servers}: ${why} — check that nats-server runs and TANDEM_NATS_URL is right`);
}

/** NATS headers carrying the active trace context (W3C traceparent/tracestate). */
export function traceHeaders(base?: MsgHdrs): MsgHdrs {
  const h = base ?? natsHeaders();
  propagation.inject(context.active(), h, {
    set: (carrier, key, value) => carrier.set(key, value),
  });
  return h;
}

/** The trace context a message carried, to continue the trace in the handler. */
export function contextFromHeaders(h: MsgHdrs | undefined): Context {
  if (!h) return context.active();
  return propagation.extract(context.active(), h, {
    get: (carrier, key) => carrier.get(key) || undefined,
    keys: (carrier) => carrier.keys(),
  });
}
