/**
 * Watching a running transfer: whether it still moves (a stall is killed, never waited out), and
 * when to tell how far it got (progress events at most every 2 s).
 */

/**
 * Calls `onStall` once when no byte was seen (`touch`) for `timeoutMs`. Checked a few times per
 * timeout, so a stall is found within a quarter of the timeout (at most a second) after it.
 */
export class StallWatch {
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private fired = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly onStall: (idleMs: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  start(): void {
    this.last = this.now();
    this.timer = setInterval(() => this.check(), Math.max(10, Math.min(1_000, Math.floor(this.timeoutMs / 4))));
    this.timer.unref();
  }

  /** Bytes moved. */
  touch(): void {
    this.last = this.now();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get stalled(): boolean {
    return this.fired;
  }

  /** Public for tests with a fake clock. */
  check(): void {
    const idle = this.now() - this.last;
    if (this.fired || idle < this.timeoutMs) return;
    this.fired = true;
    this.stop();
    this.onStall(idle);
  }
}

/** Progress is told when the first bytes arrive, then at most every `everyMs`. */
export class ProgressThrottle {
  private lastAt: number | null = null;

  constructor(
    private readonly everyMs = 2_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  due(): boolean {
    const t = this.now();
    if (this.lastAt !== null && t - this.lastAt < this.everyMs) return false;
    this.lastAt = t;
    return true;
  }
}

/** Percent of the estimated total, one decimal, at most 100 (an estimate can be short); null without an estimate. */
export function progressPercent(bytes: number, total: number | null): number | null {
  if (total === null || total <= 0) return null;
  return Math.min(100, Math.round((bytes / total) * 1000) / 10);
}
