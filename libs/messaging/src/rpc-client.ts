import type { NatsConnection } from 'nats';
import { inSpan } from '@tandem/telemetry';
import {
  ErrorCode,
  TandemError,
  execSubject,
  nodeIdSchema,
  type HostOpRequest,
  type HostOpResults,
  type HostOperation,
  type Reply,
} from '@tandem/contracts';
import { traceHeaders } from './connection';

/** Send a request, unwrap its Reply envelope; a failed reply throws the TandemError it carried. */
export async function requestReply<T>(nc: NatsConnection, subject: string, payload: unknown, timeoutMs: number): Promise<T> {
  return inSpan(`request ${subject}`, { 'messaging.destination': subject }, async () => {
    let msg;
    try {
      msg = await nc.request(subject, new TextEncoder().encode(JSON.stringify(payload ?? {})), { timeout: timeoutMs, headers: traceHeaders() });
    } catch (err) {
      const m = String((err as Error)?.message ?? err);
      if (/503|no responders/i.test(m)) throw new TandemError(ErrorCode.Unavailable, `nobody answers on ${subject}: is the service running?`);
      if (/timeout/i.test(m)) throw new TandemError(ErrorCode.Timeout, `no answer on ${subject} within ${timeoutMs} ms`);
      throw err;
    }
    const reply = JSON.parse(new TextDecoder().decode(msg.data)) as Reply<T>;
    if (!reply.ok) throw TandemError.fromBody(reply.error);
    return reply.result;
  });
}

/** Typed client for every node's host-executor. */
export class HostClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly defaultTimeoutMs = 60_000,
  ) {}

  async call<O extends HostOperation>(nodeId: string, op: O, req: HostOpRequest<O>, timeoutMs?: number): Promise<HostOpResults[O]> {
    const parsed = nodeIdSchema.safeParse(nodeId);
    if (!parsed.success) throw new TandemError(ErrorCode.UnknownNode, `node "${nodeId}" is not a valid node id`, 'node');
    return requestReply<HostOpResults[O]>(this.nc, execSubject(nodeId, op), req, timeoutMs ?? this.defaultTimeoutMs).catch((err) => {
      if (err instanceof TandemError && err.code === ErrorCode.Unavailable) {
        throw new TandemError(ErrorCode.UnknownNode, `no host-executor answers for node "${nodeId}": unknown node, or its host-executor is down`, 'node');
      }
      throw err;
    });
  }
}

/**
 * Retry `call` while it fails with one of `codes` (default: UNAVAILABLE — nobody answers yet,
 * e.g. right after start-up while the resource-manager lease is being taken), for up to
 * `waitForMs`; any other error, or the last one, is thrown.
 */
export async function retryWhileUnavailable<T>(call: () => Promise<T>, opts: { waitForMs?: number; codes?: ErrorCode[] } = {}): Promise<T> {
  const deadline = Date.now() + (opts.waitForMs ?? 15_000);
  const codes = opts.codes ?? [ErrorCode.Unavailable];
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof TandemError && codes.includes(err.code)) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
