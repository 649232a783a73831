import { inspect } from 'node:util';
import { sleep } from './sleep';
import { TimeoutError } from './with-timeout';

export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

export interface WaitForOptions {
  /** Give up after this long, counted from the first call. */
  timeoutMs: number;
  /** Pause between calls; 100 ms when left out. */
  intervalMs?: number;
  /** What is awaited, for the timeout message ("pool tank imported on node-b"). */
  what: string;
}

/**
 * Calls `condition` until it returns (or resolves to) a truthy value and returns that value.
 * A call that throws counts as not yet; a call still pending at the deadline is abandoned.
 * On timeout throws a TimeoutError naming `what` and the last error or value seen.
 */
export async function waitFor<T>(condition: () => T | PromiseLike<T>, opts: WaitForOptions): Promise<Truthy<Awaited<T>>> {
  const interval = opts.intervalMs ?? 100;
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    let last: { error: unknown } | { value: unknown };
    const left = deadline - Date.now();
    try {
      const value = await boundedCall(condition, Math.max(left, 1));
      if (value) return value as Truthy<Awaited<T>>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    const now = Date.now();
    if (now >= deadline) {
      const seen = 'error' in last ? `last error: ${describeError(last.error)}` : `last value: ${describe(last.value)}`;
      throw new TimeoutError(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}; ${seen}`, {
        cause: 'error' in last ? last.error : undefined,
      });
    }
    await sleep(Math.min(interval, deadline - now));
  }
}

/**
 * One call of the condition, given up after `ms` so a hung probe cannot hold the caller past the
 * deadline. Unlike withTimeout the timer stays ref'd: the caller is waiting for that deadline.
 */
function boundedCall<T>(condition: () => T | PromiseLike<T>, ms: number): Promise<Awaited<T>> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError('still pending at the deadline')), ms);
  });
  return Promise.race([Promise.resolve().then(condition), pending]).finally(() => clearTimeout(timer));
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : describe(err);
}

function describe(value: unknown): string {
  const text = inspect(value, { depth: 2, breakLength: Infinity });
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
