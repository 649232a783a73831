import { hostname, userInfo } from 'node:os';
import type { Dispatcher } from 'undici';
import { trustDispatcher } from '@tandem/messaging';
import { ACTOR_HEADER, ApiPaths, ErrorCode, actorSchema, isProblemDetails, problemType, type ProblemDetails, type TokenResponse } from '@tandem/contracts';

/** A failed API call, always as problem details (made up locally when the API could not be reached). */
export class ApiError extends Error {
  constructor(readonly problem: ProblemDetails) {
    super(problem.detail);
    this.name = 'ApiError';
  }
}

const READ_TIMEOUT_MS = 30_000;
/** The gateway waits up to 120 s for a mutating operation; leave it room to answer. */
const MUTATING_TIMEOUT_MS = 150_000;

/** Who runs the CLI, for the activity log: `cli:<user>@<host>`. */
export function cliActor(): string | undefined {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry: keep $USER */
  }
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_.:+-]/g, '_');
  const actor = `cli:${clean(user)}@${clean(hostname())}`.slice(0, 64);
  return actorSchema.safeParse(actor).success ? actor : undefined;
}

function localProblem(code: ErrorCode, detail: string): ProblemDetails {
  return { type: problemType(code), title: code, status: 0, detail };
}

/** A thin client of the api-gateway (fetch). */
export class ApiClient {
  private token?: string;
  private readonly dispatcher: Dispatcher | undefined;

  constructor(
    readonly base: string,
    private readonly password?: string,
    private readonly actor = cliActor(),
    trust?: { ca: string } | { fingerprint: string },
  ) {
    // an https:// API: by its CA, or by its certificate's fingerprint
    this.dispatcher = trust ? trustDispatcher(trust) : undefined;
  }

  private async request(method: string, path: string, init: { body?: unknown; auth?: boolean; timeoutMs: number; accept?: string; signal?: AbortSignal }): Promise<Response> {
    const headers: Record<string, string> = { accept: init.accept ?? 'application/json' };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.auth) headers.authorization = `Bearer ${await this.getToken()}`;
    if (this.actor && method !== 'GET') headers[ACTOR_HEADER] = this.actor;
    const signals = init.timeoutMs > 0 ? [AbortSignal.timeout(init.timeoutMs)] : [];
    if (init.signal) signals.push(init.signal);
    let res: Response;
    try {
      const req = { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: AbortSignal.any(signals), dispatcher: this.dispatcher };
      res = await fetch(`${this.base}${path}`, req as RequestInit);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError') throw new ApiError(localProblem(ErrorCode.Timeout, `no answer from ${this.base} within ${init.timeoutMs / 1000} s`));
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(why)) {
        const detail = e.cause?.message && e.cause.message !== why ? `${why}: ${e.cause.message}` : why;
        throw new ApiError(
          localProblem(
            ErrorCode.Unavailable,
            `the API at ${this.base} is not trusted (${detail}): give its CA (--api-ca FILE, TANDEM_API_CA_FILE) or its certificate's SHA-256 fingerprint (--api-fingerprint FP, TANDEM_API_FINGERPRINT; its api-gateway logs it at start)`,
          ),
        );
      }
      throw new ApiError(localProblem(ErrorCode.Unavailable, `cannot reach the API at ${this.base}: ${why}`));
    }
    if (!res.ok) throw new ApiError(await problemOf(res));
    return res;
  }

  private async json<T>(res: Response): Promise<T> {
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(localProblem(ErrorCode.Internal, `the API at ${this.base} answered ${res.status} with something that is not JSON`));
    }
  }

  async getToken(): Promise<string> {
    if (this.token) return this.token;
    if (this.password === undefined) throw new ApiError(localProblem(ErrorCode.Unauthorized, 'a password is needed for changes'));
    const res = await this.request('POST', ApiPaths.token, { body: { password: this.password }, timeoutMs: READ_TIMEOUT_MS });
    this.token = (await this.json<TokenResponse>(res)).token;
    return this.token;
  }

  /**
   * A read: without credentials first (reads are open by default); when the gateway wants them
   * (TANDEM_API_READS=authenticated) and a password is at hand, once more with a token.
   */
  private async read(path: string, init: { timeoutMs: number; accept?: string; signal?: AbortSignal }): Promise<Response> {
    try {
      return await this.request('GET', path, { ...init, auth: this.token !== undefined });
    } catch (err) {
      if (!(err instanceof ApiError && err.problem.status === 401) || this.password === undefined || this.token !== undefined) throw err;
      return this.request('GET', path, { ...init, auth: true });
    }
  }

  async get<T>(path: string): Promise<T> {
    return this.json<T>(await this.read(path, { timeoutMs: READ_TIMEOUT_MS }));
  }

  /** A change: authenticated with a token obtained from the password. */
  async change<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return this.json<T>(await this.request(method, path, { body, auth: true, timeoutMs: MUTATING_TIMEOUT_MS }));
  }

  /** The node the API's gateway runs on (its liveness answer), or undefined when it does not say. */
  async nodeId(): Promise<string | undefined> {
    try {
      const live = await this.json<{ node?: unknown }>(await this.request('GET', ApiPaths.live, { timeoutMs: 5_000 }));
      return typeof live.node === 'string' ? live.node : undefined;
    } catch {
      return undefined;
    }
  }

  /** Follow the event feed; resolves when the server ends it. */
  async events(onEnvelope: (envelope: unknown) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.read(ApiPaths.events, { accept: 'text/event-stream', timeoutMs: 0, signal });
    if (!res.body) return;
    const parser = new SseParser((data) => {
      try {
        onEnvelope(JSON.parse(data));
      } catch {
        /* not JSON: not an event */
      }
    });
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.push(decoder.decode(chunk, { stream: true }));
  }
}

async function problemOf(res: Response): Promise<ProblemDetails> {
  const text = await res.text().catch(() => '');
  try {
    const body: unknown = JSON.parse(text);
    if (isProblemDetails(body)) return body;
  } catch {
    /* not JSON */
  }
  const code = res.status === 401 ? ErrorCode.Unauthorized : res.status === 404 ? ErrorCode.NotFound : res.status === 503 ? ErrorCode.Unavailable : ErrorCode.Internal;
  return { type: problemType(code), title: code, status: res.status, detail: `HTTP ${res.status} ${res.statusText} from ${res.url}` };
}

/** Server-Sent Events: calls back with the data of each message (comments and ids ignored). */
export class SseParser {
  private buffer = '';

  constructor(private readonly onData: (data: string) => void) {}

  push(text: string): void {
    this.buffer += text.replace(/\r\n/g, '\n');
    let i: number;
    while ((i = this.buffer.indexOf('\n\n')) >= 0) {
      const frame = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''));
      if (data.length) this.onData(data.join('\n'));
    }
  }
}
