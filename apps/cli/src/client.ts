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

/** Why a fetch got no answer from `base`, as problem details. */
function unanswered(err: unknown, base: string, timeoutMs: number): ProblemDetails {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return localProblem(ErrorCode.Timeout, `no answer from ${base} within ${timeoutMs / 1000} s`);
  const why = e.cause?.code ?? e.cause?.message ?? e.message;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(why)) {
    const detail = e.cause?.message && e.cause.message !== why ? `${why}: ${e.cause.message}` : why;
    return localProblem(
      ErrorCode.Unavailable,
      `the API at ${base} is not trusted (${detail}): give its CA (--api-ca FILE, TANDEM_API_CA_FILE) or its certificate's SHA-256 fingerprint (--api-fingerprint FP, TANDEM_API_FINGERPRINT; its api-gateway logs it at start)`,
    );
  }
  return localProblem(ErrorCode.Unavailable, `cannot reach the API at ${base}: ${why}`);
}

/**
 * A thin client of the api-gateway (fetch). Given several APIs, it asks them in order until one
 * answers (any HTTP answer, an error too), then keeps to that one: one that cannot be reached,
 * does not answer in time or is not trusted is passed over.
 */
export class ApiClient {
  private token?: string;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly bases: readonly string[];
  /** The API that answered. */
  private answered?: string;
  private readonly readTimeoutMs: number;

  constructor(
    bases: string | readonly string[],
    private readonly password?: string,
    private readonly actor = cliActor(),
    trust?: { ca: string } | { fingerprint: string },
    opts: { readTimeoutMs?: number } = {},
  ) {
    this.bases = typeof bases === 'string' ? [bases] : bases;
    // an https:// API: by its CA, or by its certificate's fingerprint
    this.dispatcher = trust ? trustDispatcher(trust) : undefined;
    this.readTimeoutMs = opts.readTimeoutMs ?? READ_TIMEOUT_MS;
  }

  /** The API asked: the one that answered, or the first. */
  get base(): string {
    return this.answered ?? this.bases[0];
  }

  /** Ask the APIs in order again (after the one that answered went away). */
  forgetAnswered(): void {
    this.answered = undefined;
  }

  private async request(
    method: string,
    path: string,
    init: { body?: unknown; auth?: boolean; timeoutMs: number; accept?: string; signal?: AbortSignal; headers?: Record<string, string> },
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: init.accept ?? 'application/json', ...init.headers };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.auth) headers.authorization = `Bearer ${await this.getToken()}`;
    if (this.actor && method !== 'GET') headers[ACTOR_HEADER] = this.actor;
    const failures: ProblemDetails[] = [];
    for (const base of this.answered !== undefined ? [this.answered] : this.bases) {
      const signals = init.timeoutMs > 0 ? [AbortSignal.timeout(init.timeoutMs)] : [];
      if (init.signal) signals.push(init.signal);
      let res: Response;
      try {
        const req = { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: AbortSignal.any(signals), dispatcher: this.dispatcher };
        res = await fetch(`${base}${path}`, req as RequestInit);
      } catch (err) {
        if (init.signal?.aborted) throw err;
        failures.push(unanswered(err, base, init.timeoutMs));
        continue;
      }
      this.answered = base;
      if (!res.ok) throw new ApiError(await problemOf(res));
      return res;
    }
    if (failures.length === 1) throw new ApiError(failures[0]);
    // none answered: each one's reason
    throw new ApiError({ ...failures[failures.length - 1], detail: `none of the ${failures.length} APIs answered: ${failures.map((f) => f.detail).join('; ')}` });
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
    const res = await this.request('POST', ApiPaths.token, { body: { password: this.password }, timeoutMs: this.readTimeoutMs });
    this.token = (await this.json<TokenResponse>(res)).token;
    return this.token;
  }

  /**
   * A read: without credentials first (reads are open by default); when the gateway wants them
   * (TANDEM_API_READS=authenticated) and a password is at hand, once more with a token.
   */
  private async read(path: string, init: { timeoutMs: number; accept?: string; signal?: AbortSignal; headers?: Record<string, string> }): Promise<Response> {
    try {
      return await this.request('GET', path, { ...init, auth: this.token !== undefined });
    } catch (err) {
      if (!(err instanceof ApiError && err.problem.status === 401) || this.password === undefined || this.token !== undefined) throw err;
      return this.request('GET', path, { ...init, auth: true });
    }
  }

  async get<T>(path: string): Promise<T> {
    return this.json<T>(await this.read(path, { timeoutMs: this.readTimeoutMs }));
  }

  /** A read, with the answer's headers (e.g. the `Link` of a page). */
  async getWithHeaders<T>(path: string): Promise<{ body: T; headers: Headers }> {
    const res = await this.read(path, { timeoutMs: this.readTimeoutMs });
    return { body: await this.json<T>(res), headers: res.headers };
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

  /**
   * Follow the event feed (`query`: its filter, e.g. `?entity=pool&id=tank`), after the event
   * `lastEventId` when given; resolves with the id of the last event seen when the server ends it.
   */
  async events(onEnvelope: (envelope: unknown) => void, opts: { query?: string; lastEventId?: string; signal?: AbortSignal } = {}): Promise<string | undefined> {
    let last = opts.lastEventId;
    const headers: Record<string, string> = last !== undefined ? { 'last-event-id': last } : {};
    const res = await this.read(`${ApiPaths.events}${opts.query ?? ''}`, { accept: 'text/event-stream', timeoutMs: 0, signal: opts.signal, headers });
    if (!res.body) return last;
    const parser = new SseParser((data, id) => {
      if (id !== undefined) last = id;
      try {
        onEnvelope(JSON.parse(data));
      } catch {
        /* not JSON: not an event */
      }
    });
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) parser.push(decoder.decode(chunk, { stream: true }));
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      // the connection broke: the feed ended
    }
    return last;
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

/** Server-Sent Events: calls back with the data of each message and its id (comments ignored). */
export class SseParser {
  private buffer = '';

  constructor(private readonly onData: (data: string, id?: string) => void) {}

  push(text: string): void {
    this.buffer += text.replace(/\r\n/g, '\n');
    let i: number;
    while ((i = this.buffer.indexOf('\n\n')) >= 0) {
      const frame = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      const lines = frame.split('\n');
      const field = (name: string) => lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ''));
      const data = field('data');
      if (data.length) this.onData(data.join('\n'), field('id').pop());
    }
  }
}
