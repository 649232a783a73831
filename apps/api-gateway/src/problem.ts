import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { ZodError } from 'zod';
import { ThrottledError } from './login-throttle';
import { ErrorCode, PROBLEM_CONTENT_TYPE, TandemError, describeZodError, problemType, type ProblemDetails } from '@tandem/contracts';

/**
 * HTTP status of each wire error code. Codes not listed (and codes this gateway does not know
 * yet) are failures of a service behind the gateway: 502.
 */
const STATUS: Partial<Record<string, number>> = {
  [ErrorCode.InvalidArgument]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.TooManyRequests]: 429,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.PoolNotFound]: 404,
  [ErrorCode.PoolNotManaged]: 404,
  [ErrorCode.UnknownNode]: 404,
  [ErrorCode.DatasetNotFound]: 404,
  [ErrorCode.SnapshotNotFound]: 404,
  [ErrorCode.InTransition]: 409,
  [ErrorCode.PoolImportedElsewhere]: 409,
  [ErrorCode.InterfaceNotFound]: 400,
  [ErrorCode.AlreadyExists]: 409,
  [ErrorCode.AddressInUse]: 409,
  [ErrorCode.PoolBusy]: 409,
  [ErrorCode.StaleEpoch]: 409,
  [ErrorCode.PoolNotImportable]: 409,
  [ErrorCode.SyncLocked]: 409,
  [ErrorCode.HostKeyRefused]: 409,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.NotLeader]: 503,
  [ErrorCode.Timeout]: 504,
};

export function httpStatusFor(code: string): number {
  return STATUS[code] ?? 502;
}

/** An error whose problem details are already made (e.g. with the request's trace id added). */
export class ProblemException extends Error {
  constructor(readonly problem: ProblemDetails) {
    super(problem.detail);
    this.name = 'ProblemException';
  }
}

export function problem(code: string, status: number, detail: string, extra: { field?: string; output?: string; traceId?: string } = {}): ProblemDetails {
  const p: ProblemDetails = { type: problemType(code), title: code, status, detail };
  if (extra.field !== undefined) p.field = extra.field;
  if (extra.output !== undefined && extra.output !== '') p.output = extra.output;
  if (extra.traceId !== undefined) p.traceId = extra.traceId;
  return p;
}

/** A TandemError from any service as problem details. */
export function problemFromTandemError(err: TandemError, traceId?: string): ProblemDetails {
  return problem(err.code, httpStatusFor(err.code), err.message, { field: err.field, output: err.detail, traceId });
}

/** A validation failure: 400 naming the field (dotted path). */
export function problemFromZodError(err: ZodError): ProblemDetails {
  const { field, message } = describeZodError(err);
  return problem(ErrorCode.InvalidArgument, 400, message, { field });
}

function codeForHttpStatus(status: number): ErrorCode {
  if (status === 401 || status === 403) return ErrorCode.Unauthorized;
  if (status === 404) return ErrorCode.NotFound;
  if (status === 503) return ErrorCode.Unavailable;
  if (status === 504) return ErrorCode.Timeout;
  return status < 500 ? ErrorCode.InvalidArgument : ErrorCode.Internal;
}

function httpExceptionDetail(err: HttpException): string {
  const body = err.getResponse();
  if (typeof body === 'string') return body;
  const m = (body as { message?: unknown }).message;
  if (Array.isArray(m)) return m.join('; ');
  if (typeof m === 'string') return m;
  return err.message;
}

/** Anything thrown while serving a request, as problem details. */
export function toProblem(err: unknown): ProblemDetails {
  if (err instanceof ProblemException) return err.problem;
  if (err instanceof TandemError) return problemFromTandemError(err);
  if (err instanceof ZodError) return problemFromZodError(err);
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const detail = status === 400 && /JSON/.test(httpExceptionDetail(err)) ? `the body is not valid JSON: ${httpExceptionDetail(err)}` : httpExceptionDetail(err);
    return problem(codeForHttpStatus(status), status, detail);
  }
  return problem(ErrorCode.Internal, HttpStatus.INTERNAL_SERVER_ERROR, 'internal error in the api-gateway (see its log)');
}

/** Every error of the gateway's HTTP side answered as `application/problem+json`. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(err: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw err;
    const res = host.switchToHttp().getResponse<Response>();
    const p = toProblem(err);
    if (p.title === ErrorCode.Internal && !(err instanceof TandemError) && !(err instanceof ProblemException)) {
      this.logger.error(`unhandled error: ${(err as Error)?.stack ?? String(err)}`);
    }
    if (res.headersSent) {
      // A stream (the event feed) already started: nothing can be said any more.
      res.end();
      return;
    }
    if (p.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="tandem"');
    if (err instanceof ThrottledError) res.setHeader('Retry-After', String(err.retryAfterS));
    res.status(p.status).setHeader('Content-Type', `${PROBLEM_CONTENT_TYPE}; charset=utf-8`);
    res.send(JSON.stringify(p));
  }
}
