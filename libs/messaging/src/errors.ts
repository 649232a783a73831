import { ZodError } from 'zod';
import { ErrorCode, TandemError, type ErrorBody } from '@tandem/contracts';

/** Any thrown value as the ErrorBody that crosses the wire. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof TandemError) return err.toBody();
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const field = issue?.path.join('.') || '(request)';
    const msg = issue?.code === 'unrecognized_keys' ? `unknown field(s): ${(issue as { keys: string[] }).keys.join(', ')}` : (issue?.message ?? 'invalid');
    return { code: ErrorCode.InvalidArgument, message: `${field}: ${msg}`, field };
  }
  // NATS errors that mean "not now" (a JetStream stream electing its leader after a server was
  // lost answers 503 / no responders; a request that got no answer in time), not a bug
  const natsCode = (err as { code?: unknown })?.code;
  const message = (err as Error)?.message ?? String(err);
  if (natsCode === '503' || /no responders/i.test(message))
    return {
      code: ErrorCode.Unavailable,
      message: `the cluster's replicated state did not answer (${message}): a server was probably lost and a new leader is being elected; try again in a few seconds`,
    };
  if (natsCode === 'TIMEOUT') return { code: ErrorCode.Timeout, message: `the cluster's replicated state did not answer in time (${message}); try again in a few seconds` };
  return { code: ErrorCode.Internal, message };
}
