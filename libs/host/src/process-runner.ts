import { execa } from 'execa';
import { INVALID_SPAN_CONTEXT, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { tracing } from '@tandem/telemetry';

/** What one finished host command produced. */
export interface CommandResult {
  argv: readonly string[];
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

export interface RunOptions {
  /** Hard limit; the process is killed (SIGTERM, then SIGKILL) when it is reached. */
  timeoutMs?: number;
  input?: string | Buffer;
  env?: Record<string, string>;
  cwd?: string;
  /** Non-zero exit resolves instead of throwing. */
  allowFailure?: boolean;
}

export class CommandFailedError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly timedOut: boolean,
  ) {
    super(timedOut ? `${argv[0]} timed out (${argv.join(' ')})` : `${argv[0]} failed with exit code ${exitCode}: ${stderr.trim() || '(no output)'}`);
    this.name = 'CommandFailedError';
  }
}

/**
 * The environment every host command gets: PATH and nothing else. The services hold secrets in
 * theirs (the cluster secret, the admin password); zpool, smbd or ganesha inherit none of them.
 */
export function commandEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...extra };
}

/**
 * The one seam through which Tandem runs OS commands: argv arrays only (never a shell),
 * a timeout on every call, one span per command.
 */
export class ProcessRunner {
  constructor(private readonly defaultTimeoutMs = 30_000) {}

  async run(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
    if (argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
      throw new Error('ProcessRunner.run: argv must be non-empty strings without NUL bytes');
    }
    // a step of a trace going on (a failover, an operation); the periodic ones (facts, probes) are not traced
    const inSpan = <T>(fn: (span: Span) => Promise<T>): Promise<T> =>
      tracing() ? trace.getTracer('tandem.host').startActiveSpan(`exec ${argv[0]}`, fn) : fn(trace.wrapSpanContext(INVALID_SPAN_CONTEXT));
    return inSpan(async (span) => {
      span.setAttribute('process.command', argv[0]);
      span.setAttribute('process.command_args', argv.join(' '));
      const started = performance.now();
      try {
        const r = await execa(argv[0], argv.slice(1), {
          timeout: opts.timeoutMs ?? this.defaultTimeoutMs,
          forceKillAfterDelay: 2_000,
          input: opts.input,
          env: commandEnv(opts.env),
          extendEnv: false,
          cwd: opts.cwd,
          reject: false,
          stripFinalNewline: false,
          shell: false,
        });
        const result: CommandResult = {
          argv,
          stdout: String(r.stdout ?? ''),
          stderr: String(r.stderr ?? ''),
          exitCode: r.exitCode ?? -1,
          durationMs: performance.now() - started,
        };
        if (r.timedOut || (r.failed && r.exitCode === undefined)) {
          throw new CommandFailedError(argv, r.exitCode, result.stderr || String(r.message ?? ''), !!r.timedOut);
        }
        if (result.exitCode !== 0 && !opts.allowFailure) {
          throw new CommandFailedError(argv, result.exitCode, result.stderr || result.stdout, false);
        }
        span.setAttribute('process.exit_code', result.exitCode);
        return result;
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  }
}

export interface StreamingProcess {
  stdin: NodeJS.WritableStream | null;
  stdout: NodeJS.ReadableStream | null;
  /** Settles when the process exits: resolves on exit code 0, rejects with CommandFailedError otherwise. */
  done: Promise<CommandResult>;
  kill: (signal?: NodeJS.Signals) => void;
  pid: number | undefined;
}

/**
 * A long-running command whose stdin/stdout are byte streams (zfs send / zfs receive).
 * stderr is collected for the error message; the timeout bounds the whole transfer.
 */
export function spawnStreaming(argv: readonly string[], opts: { timeoutMs: number; stdin?: boolean; stdout?: boolean }): StreamingProcess {
  if (argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw new Error('spawnStreaming: argv must be non-empty strings without NUL bytes');
  }
  const started = performance.now();
  const child = execa(argv[0], argv.slice(1), {
    timeout: opts.timeoutMs,
    forceKillAfterDelay: 2_000,
    stdin: opts.stdin ? 'pipe' : 'ignore',
    stdout: opts.stdout ? 'pipe' : 'ignore',
    stderr: 'pipe',
    buffer: { stdout: false, stderr: true },
    encoding: 'buffer',
    reject: false,
    shell: false,
    env: commandEnv(),
    extendEnv: false,
  });
  const done = (async () => {
    const r = await child;
    const stderr = Buffer.from((r.stderr as unknown as Uint8Array) ?? []).toString('utf8');
    const result: CommandResult = { argv, stdout: '', stderr, exitCode: r.exitCode ?? -1, durationMs: performance.now() - started };
    if (r.timedOut || r.exitCode !== 0) throw new CommandFailedError(argv, r.exitCode, stderr || String(r.message ?? ''), !!r.timedOut);
    return result;
  })();
  done.catch(() => undefined);
  return {
    stdin: child.stdin,
    stdout: child.stdout,
    done,
    kill: (signal = 'SIGTERM') => void child.kill(signal),
    pid: child.pid,
  };
}
