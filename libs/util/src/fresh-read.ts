/**
 * One read shared by every caller that asked while it was waiting to start: each caller gets the
 * result of a read that began after it asked (never an older one), and callers who ask while a
 * read runs share the next one. For a slow scan that many callers need at once (the pools on the
 * disks, when a node takes over twenty of them): one scan instead of twenty, none of them stale.
 */
export class FreshRead<T> {
  private running: Promise<T> | null = null;
  private queued: Promise<T> | null = null;
  /** How many reads were started (for tests and logs). */
  reads = 0;

  constructor(private readonly read: () => Promise<T>) {}

  get(): Promise<T> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    const after = this.running.then(
      () => undefined,
      () => undefined,
    );
    this.queued = after.then(() => {
      this.queued = null;
      return this.start();
    });
    return this.queued;
  }

  private start(): Promise<T> {
    this.reads++;
    const p = this.read();
    this.running = p;
    const done = () => {
      if (this.running === p) this.running = null;
    };
    p.then(done, done);
    return p;
  }
}
