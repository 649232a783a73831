import { connect, headers as natsHeaders, type MsgHdrs, type NatsConnection } from 'nats';
import { context, propagation, type Context } from '@opentelemetry/api';

export interface NatsOptions {
  servers: string;
  name: string;
  /** How long the first connection may take before giving up. */
  connectTimeoutMs?: number;
}

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
      });
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`cannot reach NATS at ${opts.servers}: ${(lastError as Error)?.message ?? 'timeout'} — check that nats-server runs and TANDEM_NATS_URL is right`);
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
