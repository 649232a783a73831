import { ConsoleLogger, type LoggerService, type LogLevel } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger as Pino } from 'pino';

export type LogFormat = 'json' | 'pretty';

/** Nest's levels, most severe first: a service logs its level and those before it. */
export const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Nest's level names as pino's (and the `level` field of a JSON line). */
const PINO_LEVEL: Record<LogLevel, pino.Level> = { fatal: 'fatal', error: 'error', warn: 'warn', log: 'info', debug: 'debug', verbose: 'trace' };

/**
 * TANDEM_LOG_FORMAT when given; else JSON unless stdout is a terminal (a person reading it):
 * services under systemd, in containers and in the testbed write JSON lines.
 */
export function logFormat(given: LogFormat | undefined, stdoutIsTty: boolean): LogFormat {
  return given ?? (stdoutIsTty ? 'pretty' : 'json');
}

/** The trace and span ids of the active span, when there is a sampled one. */
export function activeTraceFields(): { trace_id: string; span_id: string } | Record<string, never> {
  const sc = trace.getActiveSpan()?.spanContext();
  if (!sc || /^0+$/.test(sc.traceId)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

/**
 * Nest's LoggerService over pino: one JSON line per call with `level`, `time` (ISO 8601),
 * `service`, `node`, `context` (the Nest logger's name), `msg`, and `trace_id`/`span_id` while a
 * span is active. Nest's own logging (app.useLogger) and every `new Logger(name)` end up here.
 */
export class JsonLogger implements LoggerService {
  private readonly pino: Pino;

  constructor(opts: { service: string; node: string; level: LogLevel }, destination: DestinationStream = pino.destination({ dest: 1, sync: true })) {
    this.pino = pino(
      {
        level: PINO_LEVEL[opts.level],
        base: { service: opts.service, node: opts.node },
        timestamp: pino.stdTimeFunctions.isoTime,
        messageKey: 'msg',
        formatters: { level: (label) => ({ level: label }) },
        mixin: activeTraceFields,
      },
      destination,
    );
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.write('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    // Nest's error(message, stack?, context?)
    const context = rest.length >= 2 ? rest[rest.length - 1] : rest.length === 1 && !isStack(rest[0]) ? rest[0] : undefined;
    const stack = rest.length >= 1 && isStack(rest[0]) ? rest[0] : undefined;
    this.emit('error', message, typeof context === 'string' ? context : undefined, stack as string | undefined);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(level: LogLevel, message: unknown, rest: unknown[]): void {
    const last = rest[rest.length - 1];
    this.emit(level, message, typeof last === 'string' ? last : undefined);
  }

  private emit(level: LogLevel, message: unknown, context: string | undefined, stack?: string): void {
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    if (stack) fields.stack = stack;
    let msg: string;
    if (message instanceof Error) {
      msg = message.message;
      fields.stack ??= message.stack;
    } else if (typeof message === 'string') msg = message;
    else msg = JSON.stringify(message) ?? String(message);
    this.pino[PINO_LEVEL[level]](fields, msg);
  }
}

function isStack(v: unknown): boolean {
  return typeof v === 'string' && /\n\s+at /.test(v);
}

/** The logger of a service: JSON lines, or Nest's own console format (pretty), at `level` and above. */
export function serviceLogger(opts: { service: string; node: string; level: LogLevel; format: LogFormat }): LoggerService {
  if (opts.format === 'json') return new JsonLogger(opts);
  return new ConsoleLogger({ logLevels: LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(opts.level) + 1) });
}
