import { FAILOVER_TIMINGS, type FailoverTimings } from '@tandem/contracts';

/**
 * The rules of ownership leases, pure (DESIGN: the safety invariant). Times are milliseconds of
 * one node's monotonic clock; nothing here compares two nodes' clocks.
 */

/** The timings keep the invariant only if a takeover always starts after the owner's fence ended. */
export function checkFailoverTimings(t: FailoverTimings, heartbeatTimeoutMs: number): string[] {
  const problems: string[] = [];
  if (!(t.takeoverAfterMs > t.fenceAfterMs + t.fenceBudgetMs)) problems.push(`takeoverAfterMs (${t.takeoverAfterMs}) must exceed fenceAfterMs + fenceBudgetMs (${t.fenceAfterMs + t.fenceBudgetMs})`);
  if (!(t.renewMs * 2 < t.fenceAfterMs)) problems.push(`a node must get at least two renewals in before it fences (renewMs ${t.renewMs}, fenceAfterMs ${t.fenceAfterMs})`);
  if (!(t.exportBoundMs + 2 * t.renewTimeoutMs < t.fenceBudgetMs)) problems.push('the fence budget must cover a last renewal, the export bound and the harder fence');
  if (!(confirmationWindowMs(heartbeatTimeoutMs, t) > 0)) problems.push(`a peer's confirmation would never keep a node (heartbeat timeout ${heartbeatTimeoutMs} ms too short)`);
  return problems;
}

/**
 * How recent a heartbeat of ours a peer must confirm (by its echo) for us to keep our pools
 * without the witness: that peer cannot declare us down before that heartbeat's send time +
 * its timeout + downForMs, and we would be fenced long before.
 */
export function confirmationWindowMs(heartbeatTimeoutMs: number, t: FailoverTimings = FAILOVER_TIMINGS): number {
  return heartbeatTimeoutMs + t.downForMs - t.fenceBudgetMs - t.marginMs;
}

/** Does a peer's echo, confirming a heartbeat of ours sent `agoMs` ago, still keep this node from fencing? */
export function peerConfirms(agoMs: number | null, heartbeatTimeoutMs: number, t: FailoverTimings = FAILOVER_TIMINGS): boolean {
  return agoMs !== null && agoMs < confirmationWindowMs(heartbeatTimeoutMs, t);
}

/** Must this node fence its pools now? */
export function mustFence(input: { armed: boolean; sinceLastAckedRenewalSentMs: number; confirmedSentMsAgo: Array<number | null>; heartbeatTimeoutMs: number | null }, t: FailoverTimings = FAILOVER_TIMINGS): boolean {
  if (!input.armed || input.sinceLastAckedRenewalSentMs < t.fenceAfterMs) return false;
  if (input.heartbeatTimeoutMs === null) return true;
  const timeout = input.heartbeatTimeoutMs;
  return !input.confirmedSentMsAgo.some((a) => peerConfirms(a, timeout, t));
}

/** May a peer take over the pools of a node it has not heard? */
export function mayTakeOver(input: { silentMs: number; heartbeatTimeoutMs: number; leaseStillForMs: number | null }, t: FailoverTimings = FAILOVER_TIMINGS): boolean {
  return input.leaseStillForMs !== null && input.leaseStillForMs >= t.takeoverAfterMs && input.silentMs >= input.heartbeatTimeoutMs + t.downForMs;
}
