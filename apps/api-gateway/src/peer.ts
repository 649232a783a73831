import { isIP } from 'node:net';
import { ACTOR_HEADER, ApiPaths, ErrorCode, PEER_TOKEN_TIMEOUT_MS, isProblemDetails, type ClusterOpResults, type ProblemDetails, type TokenResponse } from '@tandem/contracts';
import type { Dispatcher } from 'undici';
import { PinMismatch, pinnedDispatcher } from '@tandem/messaging';
import { ProblemException, problem } from './problem';

/** `10.77.1.11:8080`, `[fd00::11]:8080` */
export function hostPort(peer: string, port: number): string {
  return isIP(peer) === 6 ? `[${peer}]:${port}` : `${peer}:${port}`;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
};

/** Why a fetch to the peer failed, in a few words (connection refused, no answer within 5 s …). */
export function unreachableReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = e?.cause?.code ?? e?.cause?.errors?.find((x) => x.code)?.code ?? e?.code;
  if (code && REASONS[code]) return REASONS[code];
  return code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/**
 * The api-gateway of another node, reached on its heartbeat address for a join. Only two calls:
 * a token for that node's admin password, then POST /api/v1/cluster/nodes with this node's id.
 * Every failure is problem details: the peer cannot be reached (502, field `peer`), its password
 * is wrong (401, field `password`), or the peer's own problem details, relayed as they are.
 */
export class PeerGateway {
  readonly address: string;
  private readonly base: string;
  private readonly dispatcher: Dispatcher;

  constructor(
    readonly peer: string,
    readonly port: number,
    private readonly joinTimeoutMs: number,
    /** The SHA-256 fingerprint of the peer's API certificate, as the operator read it on that node. */
    private readonly fingerprint: string | undefined,
  ) {
    this.address = hostPort(peer, port);
    this.base = `https://${this.address}`;
    this.dispatcher = pinnedDispatcher(fingerprint);
  }

  private unreachable(thrown: unknown, timeoutMs: number): ProblemException {
    // fetch fails with a TypeError whose cause is what the connection met
    const err = (thrown as { cause?: unknown }).cause instanceof Error ? (thrown as { cause: Error }).cause : thrown;
    if (err instanceof PinMismatch) {
      const how = `Compare it with the fingerprint that node's api-gateway logs at start ("API certificate SHA-256 …")`;
      if (!err.pinned) {
        return new ProblemException(
          problem(
            ErrorCode.InvalidArgument,
            400,
            `the node at ${this.address} presented API certificate SHA-256 ${err.presented}; nothing was sent to it. ${how} and join again with peerFingerprint (tandem cluster join --peer-fingerprint) set to it`,
            { field: 'peerFingerprint' },
          ),
        );
      }
      return new ProblemException(
        problem(
          ErrorCode.HostKeyRefused,
          409,
          `the node at ${this.address} presented API certificate SHA-256 ${err.presented}, not ${err.pinned}: refused, nothing was sent to it (the password included). ${how}; if it differs, something else answers at that address`,
          { field: 'peerFingerprint' },
        ),
      );
    }
    const code = (err as { code?: string }).code ?? '';
    if (/^ERR_SSL_|^EPROTO$/.test(code) || /wrong version number|packet length too long/i.test((err as Error).message)) {
      return new ProblemException(
        problem(
          ErrorCode.Unavailable,
          502,
          `the node at ${this.address} does not speak HTTPS (${(err as Error).message}): a join never speaks plain HTTP — is a current Tandem api-gateway listening there?`,
          { field: 'peer' },
        ),
      );
    }
    const detail = `cannot reach the node at ${this.address}: ${unreachableReason(thrown, timeoutMs)} — check the address and that its api-gateway runs`;
    return new ProblemException(problem(ErrorCode.Unavailable, 502, detail, { field: 'peer' }));
  }

  private notAGateway(what: string): ProblemException {
    return new ProblemException(problem(ErrorCode.Unavailable, 502, `the node at ${this.address} ${what}: is a Tandem api-gateway listening there?`, { field: 'peer' }));
  }

  private async post(path: string, body: unknown, headers: Record<string, string>, timeoutMs: number): Promise<{ res: Response; text: string }> {
    try {
      // HTTPS only, to the pinned certificate: the TLS connection is checked before the request goes out
      const res = await fetch(`${this.base}${path}`, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
        dispatcher: this.dispatcher,
      } as RequestInit);
      return { res, text: await res.text() };
    } catch (err) {
      throw this.unreachable(err, timeoutMs);
    }
  }

  private static json(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }

  /** A token from the peer's gateway for its admin password. */
  async token(password: string): Promise<string> {
    const { res, text } = await this.post(ApiPaths.token, { password }, {}, PEER_TOKEN_TIMEOUT_MS);
    if (res.status === 401) {
      throw new ProblemException(problem(ErrorCode.Unauthorized, 401, `wrong admin password for the node at ${this.peer}`, { field: 'password' }));
    }
    const body = PeerGateway.json(text) as Partial<TokenResponse> | undefined;
    if (res.ok && typeof body?.token === 'string') return body.token;
    if (isProblemDetails(body)) return this.refused(body);
    throw this.notAGateway(`answered HTTP ${res.status} to ${ApiPaths.token} without a token`);
  }

  /** The peer's problem details, passed on (said to come from the peer). */
  private refused(p: ProblemDetails): never {
    throw new ProblemException({ ...p, detail: `the node at ${this.address} refused: ${p.detail}` });
  }

  /** Ask the peer to add `node` to its cluster; its answer (or its problem details) as it is. */
  async addNode(token: string, node: string, actor: string): Promise<ClusterOpResults['cluster.join']> {
    let r: { res: Response; text: string };
    try {
      r = await this.post(ApiPaths.clusterNodes, { node }, { authorization: `Bearer ${token}`, [ACTOR_HEADER]: actor }, this.joinTimeoutMs);
    } catch (err) {
      const p = err instanceof ProblemException ? err.problem : undefined;
      if (p && /no answer within/.test(p.detail)) {
        throw new ProblemException(
          problem(ErrorCode.Timeout, 504, `the node at ${this.address} did not answer the join within ${this.joinTimeoutMs / 1000} s; it may still complete: check tandem cluster status`, {
            field: 'peer',
          }),
        );
      }
      throw err;
    }
    const body = PeerGateway.json(r.text);
    if (r.res.ok && body !== undefined) return body as ClusterOpResults['cluster.join'];
    if (isProblemDetails(body)) {
      if (r.res.status === 404 && /^Cannot POST/.test(body.detail)) throw this.notAGateway(`does not serve POST ${ApiPaths.clusterNodes} (an older version?)`);
      throw new ProblemException(body);
    }
    throw this.notAGateway(`answered HTTP ${r.res.status} to POST ${ApiPaths.clusterNodes} with something that is not JSON`);
  }
}
