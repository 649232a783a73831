import { FAILOVER_TIMINGS } from '@tandem/contracts';
import { DEFAULT_FAILOVER_SETTINGS } from '@tandem/domain';

/**
 * The heartbeat timeout the testbed's services run with: the heartbeat service's default
 * TANDEM_HEARTBEAT_TIMEOUT_MS (apps/heartbeat/src/heartbeat.config.ts), which the testbed leaves
 * as it is. A peer heard on no channel for this long is down.
 */
export const HEARTBEAT_TIMEOUT_MS = 1_500;

/**
 * The longest an automatic takeover of a silent owner's pool waits: the peer must have heard
 * nothing from the owner for the heartbeat timeout + downForMs AND seen its ownership lease
 * unchanged for takeoverAfterMs (FAILOVER_TIMINGS). A "nothing moves" period must outlast it.
 */
export const TAKEOVER_AFTER_MS = Math.max(HEARTBEAT_TIMEOUT_MS + FAILOVER_TIMINGS.downForMs, FAILOVER_TIMINGS.takeoverAfterMs);

/**
 * How often a node's heartbeat service checks its local health (its pools, its client link):
 * the default TANDEM_LOCAL_HEALTH_INTERVAL_MS, left as it is by the testbed.
 */
export const LOCAL_HEALTH_INTERVAL_MS = 2_000;

/**
 * A pool recorded as serving on a node that reports it does not hold it is lost there after this
 * long (the failover decision's lost-pool rule), and then moves unless something holds it.
 */
export const POOL_LOST_AFTER_MS = DEFAULT_FAILOVER_SETTINGS.lostAfterMs;
