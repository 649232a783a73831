import type { z, ZodTypeAny } from 'zod';
import { ACTOR_HEADER, ErrorCode, TandemError, describeZodError, type RmOpRequest, type RmOpResults, type RmOperation } from '@tandem/contracts';
import { ResourceManagerClient } from '@tandem/messaging';
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

/** A body the gateway itself takes (not an operation's request): an object, checked with `schema`, 400 naming the field. */
export function parseBody<S extends ZodTypeAny>(schema: S, body: unknown): z.output<S> {
  const b: unknown = body ?? {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new TandemError(ErrorCode.InvalidArgument, '(body): must be a JSON object', '(body)');
  const r = schema.safeParse(b);
  if (!r.success) {
    const { field, message } = describeZodError(r.error);
    throw new TandemError(ErrorCode.InvalidArgument, message, field);
  }
  return r.data as z.output<S>;
}

/** A path parameter checked with a contract schema: 400 naming the parameter. */
export function pathParam(name: string, value: string, schema: ZodTypeAny): string {
  const r = schema.safeParse(value);
  if (!r.success) throw new TandemError(ErrorCode.InvalidArgument, describeZodError(r.error, [name]).message, name);
  return value;
}

/**
 * Ask the active resource-manager through its typed client (the transport's own failures are
 * rephrased there: none runs or one is being elected, no answer in time — `check` says what to
 * look at then); an error the resource-manager answered is passed on as it is. Every error
 * becomes problem details with the trace id.
 */
export function askResourceManager<O extends RmOperation>(
  rm: ResourceManagerClient,
  op: O,
  payload: Record<string, unknown>,
  opts: { timeoutMs: number; check: string; attributes?: Record<string, string> },
): Promise<RmOpResults[O]> {
  return inSpan(`api ${op}`, { 'tandem.operation': op, ...opts.attributes }, async (span) => {
    try {
      // the payload was checked with the operation's contract by contractRequest
      return await rm.call(op, payload as RmOpRequest<O>, opts.timeoutMs, opts.check);
    } catch (err) {
      if (!(err instanceof TandemError)) throw err;
      throw new ProblemException(problemFromTandemError(err, span.spanContext().traceId));
    }
  });
}
