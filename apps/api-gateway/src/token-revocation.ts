import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { CLUSTER_RECORD, CLUSTER_RECORD_ID, ErrorCode, TandemError } from '@tandem/contracts';
import { followRecords } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { waitFor } from '@tandem/util';

/** How long a token check waits for the first view of the cluster record (gateway start, NATS back). */
const FIRST_VIEW_WAIT_MS = 3_000;

/**
 * When API tokens were last revoked (`tandem auth revoke-tokens`): the cluster record's
 * `tokensRevokedBefore`, followed live from the cluster KV bucket, so every node's gateway refuses
 * a revoked token within moments of the revocation. No bucket yet (no cluster formed): nothing
 * was revoked. Until the first view, token checks wait a little, then answer 503: a token is
 * never taken for valid only because revocations could not be read.
 */
@Injectable()
export class TokenRevocations implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('token-revocations');
  private stopped = false;
  /** undefined: not known yet; null: no revocation. */
  private before: Date | null | undefined;

  constructor(@Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext) {}

  onModuleInit(): void {
    void followRecords(
      this.ctx.nc,
      CLUSTER_RECORD,
      (id, record) => {
        if (id !== CLUSTER_RECORD_ID) return;
        const at = record?.tokensRevokedBefore ? new Date(record.tokensRevokedBefore) : null;
        if (at && this.before?.getTime() !== at.getTime()) this.logger.warn(`API tokens issued at or before ${at.toISOString()} are revoked`);
        this.before = at;
      },
      {
        stopped: () => this.stopped,
        reopenEveryMs: 30_000,
        onCaughtUp: () => {
          this.before ??= null;
        },
        onError: (err) => {
          // no cluster bucket: no cluster has been formed, so no token was ever revoked
          if (/not found/i.test(err.message)) this.before ??= null;
          else this.logger.debug(`cluster record watch: ${err.message}`);
        },
        onMalformed: (_id, why) => this.logger.error(`the cluster record does not parse (${why}): the revocation last read stays in force`),
      },
    );
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  /** The revocation time (null: none), waiting briefly for the first view; 503 when it cannot be read. */
  async revokedBefore(): Promise<Date | null> {
    if (this.before !== undefined) return this.before;
    try {
      await waitFor(() => this.before !== undefined, { timeoutMs: FIRST_VIEW_WAIT_MS, intervalMs: 50, what: 'the cluster record (token revocations)' });
    } catch {
      throw new TandemError(
        ErrorCode.Unavailable,
        'cannot tell whether API tokens were revoked: the cluster record is not readable (NATS not reachable?); try again, or authenticate with the password',
      );
    }
    return this.before ?? null;
  }

  /** Once a revocation is known, what the gateway knows now (null: none), without waiting. */
  known(): Date | null | undefined {
    return this.before;
  }
}
