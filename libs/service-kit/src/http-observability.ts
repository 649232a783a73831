import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { NextFunction, Request, Response } from 'express';
import { Metrics } from '@tandem/telemetry';

/** Probes and scrapes: neither traced nor (the scrapes) counted, so an idle cluster exports no traces. */
export function isProbe(path: string): boolean {
  return path === '/metrics' || path.startsWith('/health/');
}

/** The route a request matched (its pattern, never the concrete path), or `unmatched`. */
export function routeOf(req: Pick<Request, 'route' | 'baseUrl'>): string {
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  return typeof pattern === 'string' ? `${req.baseUrl ?? ''}${pattern}` : 'unmatched';
}

/**
 * Express middleware of every health port and of the API: counts requests by method, route and
 * status (tandem_http_requests_total, tandem_http_request_seconds); with `traced`, every request
 * but the probes is a server span continuing the caller's W3C traceparent.
 */
export function httpObservability(opts: { traced: boolean }) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    const method = req.method.toUpperCase();
    const probe = isProbe(req.path);
    const span =
      opts.traced && !probe
        ? trace
            .getTracer('tandem.http')
            .startSpan(`${method} ${req.path}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': req.path } }, propagation.extract(ROOT_CONTEXT, req.headers))
        : undefined;
    res.once('close', () => {
      const route = routeOf(req);
      const status = res.statusCode;
      if (req.path !== '/metrics') {
        Metrics.httpRequests().inc({ method, route, status: String(status) });
        Metrics.httpSeconds().observe({ method, route }, (performance.now() - started) / 1000);
      }
      if (span) {
        span.updateName(`${method} ${route}`);
        span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
    });
    if (span) context.with(trace.setSpan(context.active(), span), next);
    else if (probe) context.with(suppressTracing(context.active()), next);
    else next();
  };
}
