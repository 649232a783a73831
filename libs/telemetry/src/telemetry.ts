import { INVALID_SPAN_CONTEXT, context, isSpanContextValid, propagation, trace, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource, envDetectorSync } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export interface TelemetryOptions {
  serviceName: string;
  nodeId?: string;
  /** The service without the `tandem-` prefix, for service.instance.id (default: serviceName). */
  service?: string;
  /** OTLP/HTTP endpoint (e.g. http://jaeger:4318). Without one, spans are made but not exported. */
  otlpEndpoint?: string;
  /** Extra processors, e.g. an in-memory exporter in tests. */
  spanProcessors?: SpanProcessor[];
}

let provider: NodeTracerProvider | undefined;

/**
 * Start tracing. Call before Nest is created so every span of start-up is captured.
 * Trace ids exist even without an exporter, so the activity log can always carry one.
 */
export function startTelemetry(opts: TelemetryOptions): NodeTracerProvider {
  if (provider) return provider;
  const processors: SpanProcessor[] = [...(opts.spanProcessors ?? [])];
  if (opts.otlpEndpoint) {
    const url = opts.otlpEndpoint.replace(/\/+$/, '') + '/v1/traces';
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 }));
  }
  provider = new NodeTracerProvider({ resource: telemetryResource(opts), spanProcessors: processors });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return provider;
}

/**
 * What every span of this process says about where it comes from: service.name
 * (tandem-<service>), service.namespace (tandem), service.instance.id (<node>/<service>: one
 * per process of the cluster) and tandem.node; OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
 * (read from the environment) add to these and win over them.
 */
export function telemetryResource(opts: Pick<TelemetryOptions, 'serviceName' | 'nodeId' | 'service'>): Resource {
  const node = opts.nodeId ?? 'unknown';
  return new Resource({
    [ATTR_SERVICE_NAME]: opts.serviceName,
    [ATTR_SERVICE_VERSION]: process.env.npm_package_version ?? '0.1.0',
    'service.namespace': 'tandem',
    'service.instance.id': `${node}/${opts.service ?? opts.serviceName}`,
    'tandem.node': node,
  }).merge(envDetectorSync.detect());
}

export async function stopTelemetry(): Promise<void> {
  const p = provider;
  provider = undefined;
  if (p) await p.shutdown().catch(() => undefined);
}

export function tracer(name = 'tandem'): Tracer {
  return trace.getTracer(name);
}

/** The W3C traceparent of the active span, or null. */
export function currentTraceparent(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

export function currentTraceId(): string | null {
  const span = trace.getActiveSpan();
  const id = span?.spanContext().traceId;
  return id && !/^0+$/.test(id) ? id : null;
}

/** Run `fn` inside a new active span; the span ends (and records errors) when fn settles. */
export async function inSpan<T>(name: string, attributes: Record<string, string | number | boolean>, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: 2, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * `inSpan` within a trace already going on; without an active span, `fn` runs untraced (given
 * a span that records nothing). Requests and commands are traced as steps of what asked for them
 * (an API request, a failover), never by themselves: the periodic polls of an idle cluster make
 * no traces.
 */
export async function inChildSpan<T>(name: string, attributes: Record<string, string | number | boolean>, fn: (span: Span) => Promise<T>): Promise<T> {
  if (!tracing()) return fn(trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
  return inSpan(name, attributes, fn);
}

/** Whether a trace is going on here (an active span with a valid context). */
export function tracing(): boolean {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc !== undefined && isSpanContextValid(sc);
}
