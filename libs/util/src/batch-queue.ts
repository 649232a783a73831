/**
 * Work that is cheaper done together than one item at a time, and that runs one batch at a time
 * (ZFS imports, serialized on the pool configuration lock anyway). An item pushed while nothing
 * runs starts at once, alone (with `gather`: after one turn of the event loop, with whatever else
 * was pushed in that turn — the callers one shared read answered at once, say); items pushed
 * while a batch runs (or while the batch waits for its turn) wait and go together in the next
 * one, at most `max` of them.
 */
export interface BatchQueueOptions<I, R> {
  /** At most this many items in one batch. */
  max: number;
  /** A batch that would start at once waits one turn of the event loop for those pushed in the same turn. */
  gather?: boolean;
  /** Carry out one batch: a settled result per item, in the items' order. */
  run: (items: I[]) => Promise<Array<PromiseSettledResult<R>>>;
  /**
   * Waits for the batch's turn and runs it (a lock shared with other work). The batch is taken
   * from the queue only when its turn has come, so everything pushed meanwhile joins it.
   */
  turn?: <T>(fn: () => Promise<T>) => Promise<T>;
}

interface Waiting<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

export class BatchQueue<I, R> {
  private readonly queue: Array<Waiting<I, R>> = [];
  private draining = false;
  /** The sizes of the batches run so far (for tests and logs). */
  readonly sizes: number[] = [];

  constructor(private readonly opts: BatchQueueOptions<I, R>) {
    if (!Number.isInteger(opts.max) || opts.max < 1) throw new RangeError(`BatchQueue: max must be a whole number of at least 1, not ${opts.max}`);
  }

  push(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const turn = this.opts.turn ?? (<T>(fn: () => Promise<T>) => fn());
    if (this.opts.gather) await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.queue.length > 0) {
        await turn(async () => {
          const batch = this.queue.splice(0, this.opts.max);
          if (batch.length === 0) return;
          this.sizes.push(batch.length);
          let results: Array<PromiseSettledResult<R>>;
          try {
            results = await this.opts.run(batch.map((w) => w.item));
            if (results.length !== batch.length) throw new Error(`BatchQueue: ${results.length} results for a batch of ${batch.length}`);
          } catch (err) {
            for (const w of batch) w.reject(err);
            return;
          }
          batch.forEach((w, i) => {
            const r = results[i];
            if (r.status === 'fulfilled') w.resolve(r.value);
            else w.reject(r.reason);
          });
        }).catch((err: unknown) => {
          // the turn itself failed (its lock's holder threw before the batch ran): the waiting items with it
          for (const w of this.queue.splice(0)) w.reject(err);
        });
      }
    } finally {
      this.draining = false;
    }
  }
}
