/** One task's outcome, in the order the items were given. */
export type TreeTaskResult<T> = { ok: true; value: T } | { ok: false; error: unknown; /** It never ran: an ancestor's task failed first. */ skipped: boolean };

/**
 * Runs `fn` for every item, at most `limit` at a time, each only after the task of its nearest
 * ancestor among the items (`parentOf`) succeeded: a child whose ancestor failed is not run and
 * carries that ancestor's error. Items whose ancestors are not among the items start at once.
 * Every task is settled before it returns (nothing is left running behind a failure).
 */
export async function runTreeTasks<I, T>(items: readonly I[], parentOf: (item: I, among: readonly I[]) => I | null, limit: number, fn: (item: I) => Promise<T>): Promise<TreeTaskResult<T>[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`runTreeTasks: limit must be a positive integer, not ${limit}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async (): Promise<void> => {
    if (running < limit) {
      running++;
      return;
    }
    await new Promise<void>((r) => waiting.push(r));
  };
  const free = (): void => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  const tasks = new Map<I, Promise<TreeTaskResult<T>>>();
  const taskOf = (item: I, chain: Set<I>): Promise<TreeTaskResult<T>> => {
    const known = tasks.get(item);
    if (known) return known;
    if (chain.has(item)) throw new Error('runTreeTasks: parentOf makes a cycle');
    chain.add(item);
    const parent = parentOf(item, items);
    const before = parent === null ? Promise.resolve<TreeTaskResult<T> | null>(null) : taskOf(parent, chain);
    const task = before.then(async (p): Promise<TreeTaskResult<T>> => {
      if (p && !p.ok) return { ok: false, error: p.error, skipped: true };
      await slot();
      try {
        return { ok: true, value: await fn(item) };
      } catch (error) {
        return { ok: false, error, skipped: false };
      } finally {
        free();
      }
    });
    tasks.set(item, task);
    return task;
  };
  return Promise.all(items.map((item) => taskOf(item, new Set())));
}
