import { z } from 'zod';

/**
 * Error codes on the wire. Do not change a value without a migration plan: integrators and
 * the gateway's HTTP mapping depend on them.
 */
export enum ErrorCode {
  InvalidArgument = 'INVALID_ARGUMENT',
  UnknownOperation = 'UNKNOWN_OPERATION',
  UnknownNode = 'UNKNOWN_NODE',
  NotFound = 'NOT_FOUND',
  AlreadyExists = 'ALREADY_EXISTS',
  PoolNotFound = 'POOL_NOT_FOUND',
  PoolNotImportable = 'POOL_NOT_IMPORTABLE',
  PoolBusy = 'POOL_BUSY',
  PoolImportedElsewhere = 'POOL_IMPORTED_ELSEWHERE',
  DatasetNotFound = 'DATASET_NOT_FOUND',
  SnapshotNotFound = 'SNAPSHOT_NOT_FOUND',
  StaleEpoch = 'STALE_EPOCH',
  InterfaceNotFound = 'INTERFACE_NOT_FOUND',
  AddressInUse = 'ADDRESS_IN_USE',
  ShareFailed = 'SHARE_FAILED',
  StreamFailed = 'STREAM_FAILED',
  Timeout = 'TIMEOUT',
  CommandFailed = 'COMMAND_FAILED',
  Unavailable = 'UNAVAILABLE',
  InTransition = 'IN_TRANSITION',
  NotLeader = 'NOT_LEADER',
  PoolNotManaged = 'POOL_NOT_MANAGED',
  Unauthorized = 'UNAUTHORIZED',
  /** Known, but not allowed here (an operation only tests may use, on a node not set up for tests). */
  Forbidden = 'FORBIDDEN',
  /** Too many attempts (wrong passwords): try again after the time the answer gives. */
  TooManyRequests = 'TOO_MANY_REQUESTS',
  /** A peer's replication endpoint presented another host key than the one pinned for it. */
  HostKeyRefused = 'HOST_KEY_REFUSED',
  /** A replication stream moved no byte for its stall timeout: killed (retried with backoff). */
  StreamStalled = 'STREAM_STALLED',
  /** Sync of a replicated pool is locked after an automatic failover (tandem replication resume). */
  SyncLocked = 'SYNC_LOCKED',
  Internal = 'INTERNAL',
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** The request field that was wrong, for INVALID_ARGUMENT. */
  field?: string;
  /** The original tool output (zfs, zpool, ip ...), kept verbatim. */
  detail?: string;
}

export type Reply<T> = { ok: true; result: T } | { ok: false; error: ErrorBody };

/** A typed error that crosses the wire as an ErrorBody. */
export class TandemError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'TandemError';
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message };
    if (this.field !== undefined) body.field = this.field;
    if (this.detail !== undefined) body.detail = this.detail;
    return body;
  }

  static fromBody(body: ErrorBody): TandemError {
    return new TandemError(body.code, body.message, body.field, body.detail);
  }
}

export const errorBodySchema = z.object({
  code: z.nativeEnum(ErrorCode),
  message: z.string(),
  field: z.string().optional(),
  detail: z.string().optional(),
});

/** The envelope of every request/reply answer (host-executor and resource-manager operations); the result is parsed with its operation's schema. */
export const replyEnvelopeSchema = z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), result: z.unknown() }), z.object({ ok: z.literal(false), error: errorBodySchema })]);
