/**
 * Leadership by lease, decided on observations of a monotonic clock, never on wall-clock
 * timestamps written by another node (clocks drift; NATS 2.9 KV has no per-key TTL).
 *
 * The holder renews by writing the key (compare-and-set on its revision). Others watch the
 * revision: if it has not moved for `takeoverMs` of their own monotonic time, they may try to
 * take the lease with a compare-and-set on the revision they saw, so only one can win.
 * A holder that could not renew for `fenceMs` must consider itself no longer leader.
 */
export interface LeaseObservation {
  holder: string | null;
  revision: number;
  /** Monotonic time (ms) at which this revision was first seen. */
  seenAt: number;
}

export interface LeaseTimings {
  renewMs: number;
  fenceMs: number;
  takeoverMs: number;
}

export type LeaseDecision = { action: 'renew'; revision: number } | { action: 'acquire'; revision: number } | { action: 'wait' } | { action: 'step-down'; reason: string };

export function validateTimings(t: LeaseTimings): void {
  if (!(t.renewMs > 0 && t.fenceMs > t.renewMs * 2)) throw new Error('lease timings: fenceMs must exceed two renewals');
  if (!(t.takeoverMs > t.fenceMs)) throw new Error('lease timings: takeoverMs must exceed fenceMs (a peer waits longer than the holder takes to fence)');
}

/**
 * What `me` should do now, given the last observation, when it last renewed successfully
 * (monotonic ms, or null), and the current monotonic time.
 */
export function decideLease(me: string, obs: LeaseObservation | null, lastRenewOk: number | null, now: number, t: LeaseTimings): LeaseDecision {
  if (!obs || obs.holder === null) return { action: 'acquire', revision: obs?.revision ?? 0 };
  if (obs.holder === me) {
    if (lastRenewOk !== null && now - lastRenewOk > t.fenceMs) return { action: 'step-down', reason: `could not renew for ${now - lastRenewOk} ms` };
    return { action: 'renew', revision: obs.revision };
  }
  if (now - obs.seenAt >= t.takeoverMs) return { action: 'acquire', revision: obs.revision };
  return { action: 'wait' };
}
