import type { JetStreamManager } from 'nats';
import { Controller, Get, Inject, Logger, Query, Req, Res, type BeforeApplicationShutdown } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiPaths, EVENTS_STREAM, ErrorCode, TandemError, describeZodError, entityEventsWildcard, eventEnvelopeSchema, eventsQuerySchema, lastEventIdSchema } from '@tandem/contracts';
import { StreamFollower } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { GATEWAY_CONFIG, type GatewayConfig } from './config';
import { ThrottledError } from './login-throttle';
import { ApiProblems, schemaOf } from './openapi';

/** A client that reads slower than events arrive is cut off rather than buffered forever. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const KEEPALIVE_MS = 15_000;
/** How long the events stream may take to answer a new feed before the client is told 503. */
const OPEN_TIMEOUT_MS = 10_000;
/** Clients of the feed at once, unless TANDEM_API_MAX_EVENT_STREAMS says otherwise: each holds a subscription, its reads of the stream and a socket. */
export const DEFAULT_MAX_EVENT_STREAMS = 64;

/** One SSE message: `id:` the event's sequence in the events stream (where a feed can resume), `data:` the envelope as one line of JSON. */
export function sseFrame(msg: { data: Uint8Array; seq: number }): string | null {
  let envelope: unknown;
  try {
    envelope = JSON.parse(new TextDecoder().decode(msg.data));
  } catch {
    return null;
  }
  if (typeof envelope !== 'object' || envelope === null) return null;
  return `id: ${msg.seq}\ndata: ${JSON.stringify(envelope)}\n\n`;
}

/** The query and Last-Event-ID of a feed, checked: the subjects it follows and the sequence it starts after. */
function feedOf(query: Record<string, unknown>, lastEventId: string | undefined): { subject: string; after?: number } {
  const q = eventsQuerySchema.safeParse(query);
  if (!q.success) {
    const { field, message } = describeZodError(q.error);
    throw new TandemError(ErrorCode.InvalidArgument, message, field);
  }
  if (q.data.id !== undefined && q.data.entity === undefined) throw new TandemError(ErrorCode.InvalidArgument, 'id: needs entity, e.g. ?entity=pool&id=tank', 'id');
  const subject = entityEventsWildcard(q.data.entity, q.data.id);
  if (lastEventId === undefined) return { subject };
  const l = lastEventIdSchema.safeParse(lastEventId);
  if (!l.success) throw new TandemError(ErrorCode.InvalidArgument, `Last-Event-ID: ${l.error.issues[0]?.message ?? 'invalid'}`, 'Last-Event-ID');
  return { subject, after: Number(l.data) };
}

/**
 * The event feed: every event of the TANDEM_EVENTS stream (tandem.evt.>), or those of one kind
 * of entity or of one entity, as Server-Sent Events: from now on, or after the event a
 * reconnecting client names in Last-Event-ID. Each client's feed reads the stream by sequence
 * (StreamFollower: no consumer to lose when a server dies), stopped when the client goes away.
 */
@ApiTags('events')
@Controller(ApiPaths.events.slice(1))
export class EventsController implements BeforeApplicationShutdown {
  private readonly logger = new Logger('events');
  private readonly open = new Set<() => void>();
  private jsm?: JetStreamManager;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(GATEWAY_CONFIG) private readonly config: Pick<GatewayConfig, 'maxEventStreams'>,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Event feed (Server-Sent Events), resumable',
    description:
      "Streams the cluster's events as they are published: one SSE message per event, `id:` its sequence in the TANDEM_EVENTS stream and `data:` the JSON envelope. " +
      'A client that reconnects with `Last-Event-ID` (as EventSource does) gets every event after that one first, as long as the stream keeps it (30 days); ' +
      'a comment line says so when some are no longer kept. `entity` (and `id`) limit the feed to one kind of entity (one entity). Comment lines keep the connection alive.',
  })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'entity', required: false, description: 'Only the events about this kind of entity', schema: schemaOf(eventsQuerySchema.shape.entity.unwrap()) })
  @ApiQuery({ name: 'id', required: false, description: 'With entity: only the events about this one (a pool name, a node id ...)', schema: schemaOf(eventsQuerySchema.shape.id.unwrap()) })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'The `id:` of the last event the client got: the feed goes on after it', schema: schemaOf(lastEventIdSchema) })
  @ApiResponse({ status: 200, description: 'text/event-stream; each `data:` line is an EventEnvelope', content: { 'text/event-stream': { schema: schemaOf(eventEnvelopeSchema) } } })
  @ApiProblems(
    400,
    [429, 'The feed serves as many clients as it may (TANDEM_API_MAX_EVENT_STREAMS, default 64): try again after `Retry-After` seconds'],
    [503, 'The TANDEM_EVENTS stream cannot be followed (JetStream unavailable)'],
  )
  async stream(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const feed = feedOf(query, req.header('last-event-id'));
    const max = this.config.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS;
    if (this.open.size >= max) throw new ThrottledError(`the event feed serves at most ${max} clients at once: try again later, or follow tandem.evt.> on NATS`, 5, 'events');
    let closed = false;
    // set once the stream is open; `close` may run before that
    const held: { keepalive?: NodeJS.Timeout; messages?: StreamFollower } = {};
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(held.keepalive);
      void held.messages?.close().catch(() => undefined);
      this.open.delete(close);
      // before the stream is open the answer is the error's, not an empty 200
      if (res.headersSent && !res.writableEnded) res.end();
    };
    this.open.add(close);
    req.on('close', close);
    res.on('close', close);

    // Where to start: after the client's last event, or after the newest one now (a reconnect of
    // the feed before its first event must not replay the stream from its start).
    let lost = '';
    const opened = (async () => {
      // one stream manager for every feed; it asks the servers nothing of its own (no account check)
      this.jsm ??= await this.ctx.nc.jetstreamManager({ checkAPI: false, timeout: 3_000 });
      const jsm = this.jsm;
      const state = (await jsm.streams.info(EVENTS_STREAM.name)).state;
      // an id past the stream's newest event is not of this stream (one made anew): from now on
      const after = feed.after !== undefined && feed.after > state.last_seq ? undefined : feed.after;
      if (after !== feed.after) lost = `: event ${feed.after} is not in the stream (its newest is ${state.last_seq}): from the next one on\n\n`;
      const start = (after ?? state.last_seq) + 1;
      if (after !== undefined && start < state.first_seq && state.messages > 0) lost = `: events ${start}-${state.first_seq - 1} are no longer kept\n\n`;
      return StreamFollower.follow(this.ctx.nc, jsm, EVENTS_STREAM.name, {
        filterSubject: feed.subject,
        startSeq: start,
        onLost: (why, next) => this.logger.warn(`event feed: the ${EVENTS_STREAM.name} stream does not answer (${why}): waiting for it, from event ${next}`),
        onRecovered: (next) => this.logger.log(`event feed: the ${EVENTS_STREAM.name} stream answers again: going on from event ${next}`),
      });
    })();
    try {
      held.messages = await Promise.race([opened, new Promise<never>((_, fail) => setTimeout(() => fail(new Error(`no answer within ${OPEN_TIMEOUT_MS / 1000} s`)), OPEN_TIMEOUT_MS).unref())]);
    } catch (err) {
      // made too late: closed as soon as it is
      void opened.then(
        (m) => m.close(),
        () => undefined,
      );
      close();
      throw new TandemError(ErrorCode.Unavailable, `the event feed cannot follow the ${EVENTS_STREAM.name} stream: ${(err as Error).message}`);
    }
    if (closed) {
      void held.messages.close().catch(() => undefined);
      return;
    }

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(`: tandem event feed (${feed.subject})\nretry: 2000\n\n${lost}`);
    held.keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);

    const messages = held.messages;
    void (async () => {
      for await (const m of messages) {
        if (closed) break;
        const frame = sseFrame(m);
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
