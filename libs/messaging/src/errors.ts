import { ZodError } from 'zod';
import { ErrorCode, TandemError, type ErrorBody } from '@tandem/contracts';

/** Any thrown value as the ErrorBody that crosses the wire. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof TandemError) return err.toBody();
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const field = issue?.path.join('.') || '(request)';
    const msg = issue?.code === 'unrecognized_keys' ? `unknown field(s): ${(issue as { keys: string[] }).keys.join(', ')}` : issue?.message ?? 'invalid';
    return { code: ErrorCode.InvalidArgument, message: `${field}: ${msg}`, field };
  }
  return { code: ErrorCode.Internal, message: (err as Error)?.message ?? String(err) };
}
