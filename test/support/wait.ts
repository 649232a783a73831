import { sleep } from '@tandem/util';

/**
 * A period in which nothing may change: `check` is called at once, then about every
 * `intervalMs` (250 ms when left out), and once more at the end of `durationMs`. A check that
 * throws (an assertion) or returns `false` fails the whole period at once, naming `what`, how far
 * into the period it broke, and why. Use it only where the period itself is under test ("for
 * 7 s after the cut nothing moves"), with the reason for its length next to the call; to wait
 * for something to become true use `waitFor` (@tandem/util).
 */
export async function holdsFor(durationMs: number, check: () => unknown, what: string, opts: { intervalMs?: number } = {}): Promise<void> {
  const interval = opts.intervalMs ?? 250;
  const t0 = performance.now();
  for (;;) {
    const at = performance.now() - t0;
    let result: unknown;
    try {
      result = await check();
    } catch (err) {
      throw new Error(`${what}: broken ${Math.round(at)} ms into the ${durationMs} ms period: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (result === false) throw new Error(`${what}: broken ${Math.round(at)} ms into the ${durationMs} ms period`);
    const left = durationMs - (performance.now() - t0);
    if (left <= 0) return;
    await sleep(Math.min(interval, left));
  }
}
