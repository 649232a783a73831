import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode, TandemError } from '@tandem/contracts';

/** Failed logins allowed per source, and from all sources together, in a window. */
export const LOGIN_FAILURES_PER_SOURCE = 5;
export const LOGIN_FAILURES_GLOBAL = 50;
export const LOGIN_WINDOW_S = 60;

/** A refusal that tells the client when to try again (the Retry-After header). */
export class ThrottledError extends TandemError {
  constructor(
    message: string,
    readonly retryAfterS: number,
    field = 'password',
  ) {
    super(ErrorCode.TooManyRequests, message, field);
  }
}

/**
 * Password guessing is slowed per source and for the gateway as a whole: after
 * LOGIN_FAILURES_PER_SOURCE wrong passwords from one address within LOGIN_WINDOW_S, that address
 * gets 429 until the window has passed; after LOGIN_FAILURES_GLOBAL from all addresses together,
 * everyone does (a guess spread over many addresses). Checked before a password is even compared;
 * a right password from a source clears its count.
 */
export class LoginThrottle {
  private readonly perSource: RateLimiterMemory;
  private readonly global: RateLimiterMemory;

  constructor(opts: { perSource?: number; global?: number; windowS?: number } = {}) {
    const duration = opts.windowS ?? LOGIN_WINDOW_S;
    this.perSource = new RateLimiterMemory({ keyPrefix: 'login-source', points: opts.perSource ?? LOGIN_FAILURES_PER_SOURCE, duration });
    this.global = new RateLimiterMemory({ keyPrefix: 'login-all', points: opts.global ?? LOGIN_FAILURES_GLOBAL, duration });
  }

  /** Throws ThrottledError (429) while `source`, or everyone, has used up its failures. */
  async check(source: string): Promise<void> {
    const [mine, all] = await Promise.all([this.perSource.get(source), this.global.get('all')]);
    const blocked = (r: RateLimiterRes | null, points: number) => r !== null && r.consumedPoints >= points;
    if (blocked(mine, this.perSource.points)) {
      const s = Math.max(1, Math.ceil(mine!.msBeforeNext / 1000));
      throw new ThrottledError(`too many wrong passwords from ${source}: try again in ${s} s`, s);
    }
    if (blocked(all, this.global.points)) {
      const s = Math.max(1, Math.ceil(all!.msBeforeNext / 1000));
      throw new ThrottledError(`too many wrong passwords from all sources: logins are paused for ${s} s`, s);
    }
  }

  /** A wrong password from `source`. */
  async failed(source: string): Promise<void> {
    // consume rejects once the points are used up: the count is what matters, not the rejection
    await Promise.all([this.perSource.consume(source).catch(() => undefined), this.global.consume('all').catch(() => undefined)]);
  }

  /** A right password from `source`: its own count starts over. */
  async succeeded(source: string): Promise<void> {
    await this.perSource.delete(source);
  }
}
