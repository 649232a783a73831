import {
  ApiPaths,
  isProblemDetails,
  type ActivityEntry,
  type AddressInfo,
  type ClusterOpResults,
  type ClusterStatus,
  type EventEnvelope,
  type HaPool,
  type HealthLiveResponse,
  type ImportablePool,
  type JoinClusterRequest,
  type PoolAction,
  type PoolOpRequest,
  type PoolOpResults,
  type ProblemDetails,
  type ReplicationPoolStatus,
  type ReplicationSettingsResult,
  type TokenResponse,
} from '@tandem/contracts';

/** Where the session is kept: it survives a reload of the page, not the closing of the tab. */
const SESSION_KEY = 'tandem.console.session';

/** A call the API refused: its problem detail (RFC 9457). */
export class ApiProblem extends Error {
  constructor(readonly problem: ProblemDetails) {
    super(problem.detail);
  }
}

export class Session {
  static load(): TokenResponse | null {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as TokenResponse | null;
      return s && Date.parse(s.expiresAt) > Date.now() ? s : null;
    } catch {
      return null;
    }
  }
  static save(t: TokenResponse): void {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(t));
  }
  static clear(): void {
    sessionStorage.removeItem(SESSION_KEY);
  }
}

const ACTOR = 'console';

/** The REST API of the gateway that served the page (same origin), typed by the contracts. */
export class Api {
  constructor(
    private token: string | null,
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', 'x-tandem-actor': ACTOR };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiProblem({ type: 'urn:tandem:error:UNREACHABLE', title: 'UNREACHABLE', status: 0, detail: `the node's API does not answer: ${(err as Error).message}` });
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) {
      // a 401 of the token endpoint is a wrong password, of a join the peer's: only others say the session ended
      if (res.status === 401 && path !== ApiPaths.token && path !== ApiPaths.clusterJoin) this.onUnauthorized();
      throw new ApiProblem(isProblemDetails(json) ? json : { type: 'urn:tandem:error:HTTP', title: `HTTP_${res.status}`, status: res.status, detail: text || res.statusText });
    }
    return json as T;
  }

  static async login(password: string): Promise<TokenResponse> {
    return new Api(null).call<TokenResponse>('POST', ApiPaths.token, { password });
  }

  live = () => this.call<HealthLiveResponse>('GET', ApiPaths.live);
  status = () => this.call<ClusterStatus>('GET', ApiPaths.cluster);
  pools = () => this.call<HaPool[]>('GET', ApiPaths.pools);
  activity = (limit = 200) => this.call<ActivityEntry[]>('GET', `${ApiPaths.activity}?limit=${limit}`);
  addresses = (node: string) => this.call<AddressInfo[]>('GET', ApiPaths.nodeAddresses(node));
  importable = (node: string) => this.call<ImportablePool[]>('GET', ApiPaths.nodeImportablePools(node));
  replication = () => this.call<ReplicationPoolStatus[]>('GET', ApiPaths.replication);
  settings = () => this.call<ReplicationSettingsResult>('GET', ApiPaths.replicationSettings);
  putSettings = (s: { snapshotInterval?: string; retention?: number; pullInterval?: string }) => this.call<ReplicationSettingsResult>('PUT', ApiPaths.replicationSettings, s);

  createCluster = (heartbeatInterface: string) => this.call<ClusterOpResults['cluster.create']>('POST', ApiPaths.cluster, { heartbeatInterface });
  joinCluster = (req: JoinClusterRequest) => this.call<ClusterOpResults['cluster.join']>('POST', ApiPaths.clusterJoin, req);
  maintenance = (on: boolean) => this.call<ClusterOpResults['maintenance.set']>('PUT', ApiPaths.clusterMaintenance, { on });
  nodeOffline = (node: string) => this.call<ClusterOpResults['node.offline']>('POST', ApiPaths.nodeAction(node, 'offline'));
  nodeOnline = (node: string) => this.call<ClusterOpResults['node.online']>('POST', ApiPaths.nodeAction(node, 'online'));
  nodeRemove = (node: string) => this.call<ClusterOpResults['node.remove']>('DELETE', ApiPaths.node(node));

  attach = (req: Omit<PoolOpRequest<'pool.attach'>, 'actor'>) => this.call<PoolOpResults['pool.attach']>('POST', ApiPaths.pools, req);
  poolAction = (pool: string, action: PoolAction, body: Record<string, string> = {}) => this.call<HaPool>('POST', ApiPaths.poolAction(pool, action), body);
  removePool = (pool: string) => this.call<PoolOpResults['pool.remove']>('DELETE', ApiPaths.pool(pool));
  resumeSync = (pool: string) => this.call<ReplicationPoolStatus>('POST', ApiPaths.replicationResume(pool));
}

export type FeedState = 'connecting' | 'live' | 'reconnecting';

/**
 * Follows the SSE feed (GET /api/v1/events) with fetch, so the token goes along when reads need
 * it; reconnects after a drop (the gateway restarts, the network blinks, the feed's consumer is
 * lost while the events stream elects a new leader) with a growing pause and `Last-Event-ID`, so
 * the events of the gap come first (a failover while the feed was down still shows its banner);
 * says when it is live again (the caller reads the state afresh then as well).
 */
export function followEvents(token: () => string | null, onEvent: (ev: EventEnvelope) => void, onState: (s: FeedState) => void): () => void {
  let stopped = false;
  let controller: AbortController | null = null;
  let pause = 500;
  /** The `id:` of the last event received: where a reconnect resumes. */
  let lastId: string | null = null;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        const t = token();
        if (t) headers.authorization = `Bearer ${t}`;
        if (lastId) headers['last-event-id'] = lastId;
        const res = await fetch(ApiPaths.events, { headers, signal: controller.signal, cache: 'no-store' });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        onState('live');
        pause = 500;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const lines = frame.split('\n');
            const data = lines
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).trimStart())
              .join('\n');
            const id = lines
              .find((l) => l.startsWith('id:'))
              ?.slice(3)
              .trim();
            if (id) lastId = id;
            if (!data) continue;
            try {
              onEvent(JSON.parse(data) as EventEnvelope);
            } catch {
              // a frame that is not JSON is not an event
            }
          }
        }
      } catch {
        // dropped or refused: try again below
      }
      if (stopped) break;
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 5_000);
    }
  };
  onState('connecting');
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
