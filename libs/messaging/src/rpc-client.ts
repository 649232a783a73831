import type { NatsConnection } from 'nats';
import type { z } from 'zod';
import { inChildSpan } from '@tandem/telemetry';
import {
  ErrorCode,
  TandemError,
  execSubject,
  healthSubject,
  heartbeatViewSchema,
  hostOpResults,
  nodeIdSchema,
  replyEnvelopeSchema,
  rmOpResults,
  rmSubject,
  type HeartbeatView,
  type HostOpRequest,
  type HostOpResults,
  type HostOperation,
  type RmOpRequest,
  type RmOpResults,
  type RmOperation,
} from '@tandem/contracts';
import { traceHeaders } from './connection';

/** The transport's own failures, as typed errors: nobody subscribed, or no answer in time. */
function transportError(err: unknown, subject: string, timeoutMs: number): unknown {
  const m = String((err as Error)?.message ?? err);
  if ((err as { code?: string }).code === '503' || /503|no responders/i.test(m)) return new TandemError(ErrorCode.Unavailable, `nobody answers on ${subject}: is the service running?`);
  if ((err as { code?: string }).code === 'TIMEOUT' || /timeout/i.test(m)) return new TandemError(ErrorCode.Timeout, `no answer on ${subject} within ${timeoutMs} ms`);
  return err;
}

/**
 * Send a request and parse its Reply envelope with `result` (the contract's result schema): a
 * failed reply throws the TandemError it carried; an answer that does not parse is refused
 * (INTERNAL, naming what was wrong), never trusted.
 */
export async function requestReply<T>(nc: NatsConnection, subject: string, payload: unknown, timeoutMs: number, result: z.ZodType<T, z.ZodTypeDef, unknown>): Promise<T> {
  return inChildSpan(`request ${subject}`, { 'messaging.destination': subject }, async () => {
    let msg;
    try {
      msg = await nc.request(subject, new TextEncoder().encode(JSON.stringify(payload ?? {})), { timeout: timeoutMs, headers: traceHeaders() });
    } catch (err) {
      throw transportError(err, subject, timeoutMs);
    }
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(msg.data));
    } catch {
      throw new TandemError(ErrorCode.Internal, `the answer on ${subject} is not JSON`);
    }
    const reply = replyEnvelopeSchema.safeParse(body);
    if (!reply.success) throw new TandemError(ErrorCode.Internal, `the answer on ${subject} is not a reply envelope: ${describe(reply.error)}`);
    if (!reply.data.ok) throw TandemError.fromBody(reply.data.error);
    const r = result.safeParse(reply.data.result);
    if (!r.success) throw new TandemError(ErrorCode.Internal, `the answer on ${subject} does not match its contract: ${describe(r.error)}`);
    return r.data;
  });
}

/** Typed client for every node's host-executor (tandem.node.<id>.exec.<operation>). */
export class HostClient {
  constructor(
    private readonly nc: NatsConnection,
    private readonly defaultTimeoutMs = 60_000,
  ) {}

  async call<O extends HostOperation>(nodeId: string, op: O, req: HostOpRequest<O>, timeoutMs?: number): Promise<HostOpResults[O]> {
    const parsed = nodeIdSchema.safeParse(nodeId);
    if (!parsed.success) throw new TandemError(ErrorCode.UnknownNode, `node "${nodeId}" is not a valid node id`, 'node');
    const result = hostOpResults[op] as unknown as z.ZodType<HostOpResults[O], z.ZodTypeDef, unknown>;
    return requestReply(this.nc, execSubject(nodeId, op), req, timeoutMs ?? this.defaultTimeoutMs, result).catch((err) => {
      // only the transport's own "nobody answers": an UNAVAILABLE the host-executor answered keeps its words
      if (err instanceof TandemError && err.code === ErrorCode.Unavailable && /^nobody answers on /.test(err.message)) {
        throw new TandemError(ErrorCode.UnknownNode, `no host-executor answers for node "${nodeId}": unknown node, or its host-executor is down`, 'node');
      }
      throw err;
    });
  }
}

/**
 * Typed client for the active resource-manager (tandem.cluster.rm.<operation>). Only the
 * transport's own failures are rephrased (nobody answers: none runs, or one is being elected; no
 * answer in time); an error the resource-manager answered is passed on as it is.
 */
export class ResourceManagerClient {
  constructor(private readonly nc: NatsConnection) {}

  async call<O extends RmOperation>(op: O, req: RmOpRequest<O>, timeoutMs: number, whatToCheck = 'check tandem cluster status and the activity log'): Promise<RmOpResults[O]> {
    const result = rmOpResults[op] as unknown as z.ZodType<RmOpResults[O], z.ZodTypeDef, unknown>;
    try {
      return await requestReply(this.nc, rmSubject(op), req, timeoutMs, result);
    } catch (err) {
      if (!(err instanceof TandemError) || !/^(nobody answers|no answer) on /.test(err.message)) throw err;
      if (err.code === ErrorCode.Unavailable)
        throw new TandemError(ErrorCode.Unavailable, `no resource-manager answers ${op}: none is running, or the cluster is electing one — retry in a few seconds`);
      throw new TandemError(ErrorCode.Timeout, `the resource-manager did not answer ${op} within ${timeoutMs / 1000} s; it may still be running: ${whatToCheck}`);
    }
  }
}

/** Typed client for every node's heartbeat service: its view of its peers and its own health. */
export class HeartbeatClient {
  constructor(private readonly nc: NatsConnection) {}

  /** The node's heartbeat view, parsed; throws when its heartbeat service does not answer in time or answers something else. */
  async view(nodeId: string, timeoutMs: number): Promise<HeartbeatView> {
    const subject = healthSubject(nodeId, 'heartbeat');
    let msg;
    try {
      msg = await this.nc.request(subject, new Uint8Array(0), { timeout: timeoutMs });
    } catch (err) {
      throw transportError(err, subject, timeoutMs);
    }
    const v = heartbeatViewSchema.safeParse(safeJson(msg.data));
    if (!v.success) throw new TandemError(ErrorCode.Internal, `the heartbeat view of ${nodeId} does not match its contract: ${v.error.issues[0]?.path.join('.')}: ${v.error.issues[0]?.message}`);
    return v.data;
  }

  /** Does the node's heartbeat service answer within `timeoutMs`? */
  async alive(nodeId: string, timeoutMs: number): Promise<boolean> {
    return this.view(nodeId, timeoutMs).then(
      () => true,
      () => false,
    );
  }
}

function describe(err: z.ZodError): string {
  const issue = err.issues[0];
  return `${issue?.path.join('.') || '(answer)'}: ${issue?.message ?? 'invalid'}`;
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

/**
 * Retry `call` while it fails with one of `codes` (default: UNAVAILABLE — nobody answers yet,
 * e.g. right after start-up while the resource-manager lease is being taken), for up to
 * `waitForMs`; any other error, or the last one, is thrown.
 */
export async function retryWhileUnavailable<T>(call: () => Promise<T>, opts: { waitForMs?: number; codes?: ErrorCode[] } = {}): Promise<T> {
  const deadline = Date.now() + (opts.waitForMs ?? 15_000);
  const codes = opts.codes ?? [ErrorCode.Unavailable];
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof TandemError && codes.includes(err.code)) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
