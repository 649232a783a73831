import { Controller, Get, Inject, Logger, Req, Res, type BeforeApplicationShutdown } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import type { Msg } from 'nats';
import { ApiPaths, EVENTS_WILDCARD, eventEnvelopeSchema } from '@tandem/contracts';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { GATEWAY_CONFIG, type GatewayConfig } from './config';
import { ThrottledError } from './login-throttle';
import { schemaOf } from './openapi';

/** A client that reads slower than events arrive is cut off rather than buffered forever. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const KEEPALIVE_MS = 15_000;
/** Clients of the feed at once, unless TANDEM_API_MAX_EVENT_STREAMS says otherwise: each holds a subscription and a socket. */
export const DEFAULT_MAX_EVENT_STREAMS = 64;

/** One SSE message: `id:` the event id, `data:` the envelope as one line of JSON. */
export function sseFrame(msg: Pick<Msg, 'data' | 'subject'>): string | null {
  let envelope: unknown;
  try {
    envelope = JSON.parse(new TextDecoder().decode(msg.data));
  } catch {
    return null;
  }
  if (typeof envelope !== 'object' || envelope === null) return null;
  const id = (envelope as { id?: unknown }).id;
  const idLine = typeof id === 'string' && /^[\w.:-]{1,128}$/.test(id) ? `id: ${id}\n` : '';
  return `${idLine}data: ${JSON.stringify(envelope)}\n\n`;
}

/**
 * The live event feed: every event published on tandem.evt.> while the client is connected, as
 * Server-Sent Events. A core NATS subscription per client (no replay: history is in the
 * TANDEM_EVENTS stream), closed when the client goes away.
 */
@ApiTags('events')
@Controller(ApiPaths.events.slice(1))
export class EventsController implements BeforeApplicationShutdown {
  private readonly logger = new Logger('events');
  private readonly open = new Set<() => void>();

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(GATEWAY_CONFIG) private readonly config: Pick<GatewayConfig, 'maxEventStreams'>,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Live event feed (Server-Sent Events)',
    description:
      'Streams every event of the cluster as it is published: one SSE message per event, `id:` the event id and `data:` the JSON envelope. ' +
      'Comment lines keep the connection alive. No replay: events published while disconnected are in the TANDEM_EVENTS stream.',
  })
  @ApiProduces('text/event-stream')
  @ApiResponse({ status: 200, description: 'text/event-stream; each `data:` line is an EventEnvelope', content: { 'text/event-stream': { schema: schemaOf(eventEnvelopeSchema) } } })
  async stream(@Req() req: Request, @Res() res: Response): Promise<void> {
    const max = this.config.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS;
    if (this.open.size >= max) throw new ThrottledError(`the event feed serves at most ${max} clients at once: try again later, or follow tandem.evt.> on NATS`, 5, 'events');
    const sub = this.ctx.nc.subscribe(EVENTS_WILDCARD);
    // set once the stream is open; `close` may run before that
    const timer: { keepalive?: NodeJS.Timeout } = {};
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(timer.keepalive);
      sub.unsubscribe();
      this.open.delete(close);
      if (!res.writableEnded) res.end();
    };
    this.open.add(close);
    req.on('close', close);
    res.on('close', close);

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    // The subscription is known to the server before the client hears it is connected.
    await this.ctx.nc.flush().catch(() => undefined);
    if (closed) return;
    res.flushHeaders();
    res.write(`: tandem event feed (${EVENTS_WILDCARD})\nretry: 2000\n\n`);
    timer.keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);

    void (async () => {
      for await (const msg of sub) {
        if (closed) break;
        const frame = sseFrame(msg);
        if (!frame) continue;
        res.write(frame);
        if (res.writableLength > MAX_BUFFERED_BYTES) {
          this.logger.warn(`event feed client ${req.ip ?? ''} reads too slowly: disconnected`);
          break;
        }
      }
    })()
      .catch((err) => this.logger.warn(`event feed: ${(err as Error).message}`))
      .finally(close);
  }

  /** Open feeds would keep the HTTP server from closing: end them first. */
  beforeApplicationShutdown(): void {
    for (const close of [...this.open]) close();
  }
}
