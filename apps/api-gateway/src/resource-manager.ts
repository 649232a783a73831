import type { NatsConnection } from 'nats';
import type { ZodTypeAny } from 'zod';
import { ACTOR_HEADER, ErrorCode, TandemError, describeZodError, type Reply } from '@tandem/contracts';
import { traceHeaders } from '@tandem/messaging';
import { inSpan } from '@tandem/telemetry';
import { ProblemException, problemFromTandemError } from './problem';

/**
 * The request the resource-manager gets: the body (an object, or nothing) plus the fields the
 * gateway sets itself (`set`), checked with the operation's contract schema before anything is
 * sent. The validated *input* is forwarded; the resource-manager parses it with the same schema.
 * `why` says, per gateway-set field, why the body may not carry it.
 */
export function contractRequest(schema: ZodTypeAny, body: unknown, set: Record<string, unknown>, why: Record<string, string> = {}): Record<string, unknown> {
  const b: unknown = body ?? {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new TandemError(ErrorCode.InvalidArgument, '(body): must be a JSON object', '(body)');
  for (const k of Object.keys(set)) {
    if (Object.prototype.hasOwnProperty.call(b, k)) {
      const reason = why[k] ?? (k === 'actor' ? `set by the gateway (send the ${ACTOR_HEADER} header instead)` : 'is taken from the path, not the body');
      throw new TandemError(ErrorCode.InvalidArgument, `${k}: ${reason}`, k);
    }
  }
  const req = { ...(b as Record<string, unknown>), ...set };
  const r = schema.safeParse(req);
  if (!r.success) {
    const { field, message } = describeZodError(r.error);
    throw new TandemError(ErrorCode.InvalidArgument, message, field);
  }
  return req;
}

/** A path parameter checked with a contract schema: 400 naming the parameter. */
export function pathParam(name: string, value: string, schema: ZodTypeAny): string {
  const r = schema.safeParse(value);
  if (!r.success) throw new TandemError(ErrorCode.InvalidArgument, describeZodError(r.error, [name]).message, name);
  return value;
}

/**
 * Ask the active resource-manager over NATS. Only the transport's own failures are rephrased
 * (nobody subscribed: no resource-manager runs, or one is being elected; no answer in time);
 * an error the resource-manager answered (also UNAVAILABLE or TIMEOUT, e.g. a node that does
 * not answer it) is passed on as it is. Every error becomes problem details with the trace id.
 * `check` says what to look at after a timeout.
 */
export function askResourceManager<T>(
  nc: NatsConnection,
  subject: string,
  op: string,
  payload: Record<string, unknown>,
  opts: { timeoutMs: number; check: string; attributes?: Record<string, string> },
): Promise<T> {
  return inSpan(`api ${op}`, { 'tandem.operation': op, ...opts.attributes }, async (span) => {
    try {
      let msg;
      try {
        msg = await nc.request(subject, new TextEncoder().encode(JSON.stringify(payload)), { timeout: opts.timeoutMs, headers: traceHeaders() });
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (e.code === '503' || /503|no responders/i.test(String(e.message))) {
          throw new TandemError(ErrorCode.Unavailable, `no resource-manager answers ${op}: none is running, or the cluster is electing one — retry in a few seconds`);
        }
        if (e.code === 'TIMEOUT' || /timeout/i.test(String(e.message))) {
          throw new TandemError(ErrorCode.Timeout, `the resource-manager did not answer ${op} within ${opts.timeoutMs / 1000} s; it may still be running: ${opts.check}`);
        }
        throw err;
      }
      const reply = JSON.parse(new TextDecoder().decode(msg.data)) as Reply<T>;
      if (!reply.ok) throw TandemError.fromBody(reply.error);
      return reply.result;
    } catch (err) {
      if (!(err instanceof TandemError)) throw err;
      throw new ProblemException(problemFromTandemError(err, span.spanContext().traceId));
    }
  });
}
