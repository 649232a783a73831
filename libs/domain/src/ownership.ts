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
  const fenceTakes = fenceDurationMs(t);
  if (!(fenceTakes <= t.fenceBudgetMs))
    problems.push(`the fence budget (${t.fenceBudgetMs}) must cover the self-fence's next look, IPs and shares down, the export bound and the harder fence (${fenceTakes})`);
  if (!(confirmationWindowMs(heartbeatTimeoutMs, t) > 0)) problems.push(`a peer's confirmation would never keep a node (heartbeat timeout ${heartbeatTimeoutMs} ms too short)`);
  return problems;
}

/** How long the harder fence takes once decided (a kill of the ZFS daemon, a reboot through sysrq). */
export const HARD_FENCE_MS = 50;

/**
 * The longest a fence takes, from the moment the lease is `fenceAfterMs` stale to the pools gone:
 * the self-fence's next look (it decides at once, on the peers' answer it asked for ahead), IPs
 * and shares down, the bounded export, the harder fence.
 */
export function fenceDurationMs(t: FailoverTimings = FAILOVER_TIMINGS): number {
  return t.fenceTickMs + t.accessDownBoundMs + t.exportBoundMs + HARD_FENCE_MS;
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

/**
 * The self-fence of a node, in two steps (host-executor's fencer asks these every tick).
 *
 * `shouldVerify` (every tick), the rules in order:
 *  1. a tick that comes more than `stallMs` after the previous one finds a process that was
 *     stalled (CPU starvation): renewals may be waiting unread — look again next tick;
 *  2. nothing to fence: no witness ever reached (`armed` false: a cluster without one never
 *     fences, and nobody takes its pools), the pools kept on disk not yet checked against what is
 *     imported, or no managed pool held;
 *  3. the last acknowledged renewal was sent less than `fenceAfterMs` ago: keep;
 *  4. otherwise verify, at once: the lease as the renewer left it and the peers' confirmation
 *     the fencer asked for ahead (it waits for neither).
 *
 * `mustFence` (after verifying): fence unless the lease is fresh again or a peer confirms one of
 * our heartbeats recent enough that it cannot declare us down before we would have fenced.
 */
export type FenceCheck = 'keep' | 'stalled' | 'verify';

/** A tick later than this after the previous one means the process was stalled, not the witness lost. */
export const FENCE_STALL_MS = 400;

export function shouldVerify(
  input: { tickLagMs: number; armed: boolean; reconciled: boolean; heldPools: number; sinceLastAckedRenewalSentMs: number },
  t: FailoverTimings = FAILOVER_TIMINGS,
): FenceCheck {
  if (input.tickLagMs > FENCE_STALL_MS) return 'stalled';
  if (!input.armed || !input.reconciled || input.heldPools === 0) return 'keep';
  if (input.sinceLastAckedRenewalSentMs < t.fenceAfterMs) return 'keep';
  return 'verify';
}

/** Must this node fence its pools now? `confirmedSentMsAgo`: per peer, the age of our newest heartbeat it echoed (plus the time the answer took). */
export function mustFence(
  input: { armed: boolean; sinceLastAckedRenewalSentMs: number; confirmedSentMsAgo: Array<number | null>; heartbeatTimeoutMs: number | null },
  t: FailoverTimings = FAILOVER_TIMINGS,
): boolean {
  if (!input.armed || input.sinceLastAckedRenewalSentMs < t.fenceAfterMs) return false;
  if (input.heartbeatTimeoutMs === null) return true;
  const timeout = input.heartbeatTimeoutMs;
  return !input.confirmedSentMsAgo.some((a) => peerConfirms(a, timeout, t));
}

/** The first peer whose echo keeps this node from fencing (for the log), or null. */
export function confirmingPeer(
  peers: ReadonlyArray<{ peer: string; confirmedSentMsAgo: number | null }>,
  answerMs: number,
  heartbeatTimeoutMs: number,
  t: FailoverTimings = FAILOVER_TIMINGS,
): string | null {
  return peers.find((p) => peerConfirms(p.confirmedSentMsAgo === null ? null : p.confirmedSentMsAgo + answerMs, heartbeatTimeoutMs, t))?.peer ?? null;
}

/** May a peer take over the pools of a node it has not heard? */
export function mayTakeOver(input: { silentMs: number; heartbeatTimeoutMs: number; leaseStillForMs: number | null }, t: FailoverTimings = FAILOVER_TIMINGS): boolean {
  return input.leaseStillForMs !== null && input.leaseStillForMs >= t.takeoverAfterMs && input.silentMs >= input.heartbeatTimeoutMs + t.downForMs;
}
