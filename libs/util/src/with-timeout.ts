/** What `withTimeout` and `waitFor` reject with, so callers can tell a timeout from the work failing. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Settles as `promise` does, or rejects with a TimeoutError(`message`) once `ms` have passed.
 * The work itself is not cancelled; its later outcome is ignored.
 */
export function withTimeout<T>(promise: PromiseLike<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(message)), ms);
    // a pending timeout alone must not hold the process open
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
