import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { context, INVALID_SPAN_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { lastValueFrom, throwError, type Observable } from 'rxjs';
import { Catch, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { NatsConnection, Msg, Subscription } from 'nats';
import { ZodError, type ZodTypeAny } from 'zod';
import { ErrorCode, TandemError, type Reply } from '@tandem/contracts';
import { contextFromHeaders } from './connection';
import { toErrorBody } from './errors';

const rpcLogger = new Logger('rpc');

export interface RpcRoute {
  /** NATS subject to subscribe to (may end in '>'). */
  subject: string;
  /** Handler pattern for a concrete subject, or null to ignore it. */
  patternOf: (subject: string) => string | null;
  /**
   * Served only while this says so (e.g. while this node holds the resource-manager lease): the
   * route is subscribed when it turns true and unsubscribed when it turns false. Always served when absent.
   */
  activeWhile?: { onChange(listener: (active: boolean) => void): void };
}

export interface NatsRpcServerOptions {
  connection: NatsConnection;
  routes: RpcRoute[];
  /** Request schemas by pattern: requests are validated (INVALID_ARGUMENT naming the field) before the handler runs. */
  schemas?: Record<string, ZodTypeAny>;
  queue?: string;
  /** Told of every request answered: its operation, how long it took, and its error code (null when it succeeded). */
  observe?: (operation: string, seconds: number, errorCode: string | null) => void;
}

/**
 * Answer one request: validate it against `schema`, run `handler` inside a span that continues
 * the caller's trace, reply with a Reply envelope (typed error on failure).
 */
async function serveRpcMessage(msg: Msg, pattern: string | null, handler: ((data: unknown) => Promise<unknown>) | null, schema?: ZodTypeAny): Promise<Reply<unknown>> {
  const parent = contextFromHeaders(msg.headers);
  // a step of the caller's trace; a request that carries none (a periodic poll) is not traced
  const traced = trace.getSpan(parent) !== undefined;
  const span = traced
    ? trace.getTracer('tandem.rpc').startSpan(`rpc ${pattern ?? msg.subject}`, { kind: SpanKind.SERVER, attributes: { 'messaging.destination': msg.subject } }, parent)
    : trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
  const reply = await context.with(traced ? trace.setSpan(parent, span) : parent, async (): Promise<Reply<unknown>> => {
    try {
      if (!pattern || !handler) throw new TandemError(ErrorCode.UnknownOperation, `unknown operation "${pattern ?? msg.subject}"`, 'operation');
      let data: unknown = {};
      if (msg.data.length > 0) {
        try {
          data = JSON.parse(new TextDecoder().decode(msg.data));
        } catch {
          throw new TandemError(ErrorCode.InvalidArgument, 'request body is not valid JSON', '(request)');
        }
      }
      if (schema) data = schema.parse(data);
      const result = await handler(data);
      return { ok: true, result: result ?? null };
    } catch (err) {
      const error = toErrorBody(err);
      // not one of ours: where it came from is worth a log line (the caller sees only the message)
      if (!(err instanceof TandemError) && !(err instanceof ZodError)) rpcLogger.warn(`${pattern ?? msg.subject}: ${error.code}: ${(err as Error)?.stack ?? String(err)}`);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      span.setAttribute('tandem.error_code', error.code);
      return { ok: false, error };
    } finally {
      span.end();
    }
  });
  if (msg.reply) msg.respond(new TextEncoder().encode(JSON.stringify(reply)));
  return reply;
}

/**
 * A Nest microservice transport over NATS request/reply. Handlers are plain
 * `@MessagePattern('pool.import')` methods; the subject carries the node (tandem.node.<id>.exec.<op>).
 * Replies are `Reply<T>` envelopes; every request is a span continuing the caller's trace.
 */
export class NatsRpcServer extends Server implements CustomTransportStrategy {
  private readonly subs = new Map<RpcRoute, Subscription>();

  constructor(private readonly options: NatsRpcServerOptions) {
    super();
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    for (const route of this.options.routes) {
      if (!route.activeWhile) {
        this.subscribe(route);
        continue;
      }
      route.activeWhile.onChange((active) => {
        const sub = this.subs.get(route);
        if (active && !sub) this.subscribe(route);
        else if (!active && sub) {
          sub.unsubscribe();
          this.subs.delete(route);
        }
      });
    }
    callback();
  }

  private subscribe(route: RpcRoute): void {
    const sub = this.options.connection.subscribe(route.subject, { queue: this.options.queue });
    this.subs.set(route, sub);
    void (async () => {
      for await (const msg of sub) void this.handle(route, msg);
    })();
  }

  private async handle(route: RpcRoute, msg: Msg): Promise<void> {
    const pattern = route.patternOf(msg.subject);
    const handler = pattern ? this.getHandlerByPattern(pattern) : null;
    const started = performance.now();
    const reply = await serveRpcMessage(
      msg,
      pattern,
      handler ? async (data) => lastValueFrom(this.transformToObservable(await handler(data, { subject: msg.subject, headers: msg.headers })), { defaultValue: undefined }) : null,
      pattern ? this.options.schemas?.[pattern] : undefined,
    );
    // unknown operations are not counted: their names are whatever a caller sent
    if (pattern && handler) this.options.observe?.(pattern, (performance.now() - started) / 1000, reply.ok ? null : reply.error.code);
  }

  async close(): Promise<void> {
    for (const s of this.subs.values()) s.unsubscribe();
    this.subs.clear();
  }

  on(): void {
    /* no transport events */
  }

  unwrap<T>(): T {
    return this.options.connection as T;
  }
}

/**
 * Nest wraps handler errors into a generic "Internal server error"; this filter hands the
 * original error back to NatsRpcServer so typed errors keep their code and field.
 */
@Catch()
export class RpcPassthroughFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    if (host.getType() === 'rpc') return throwError(() => exception);
    return super.catch(exception, host);
  }
}
