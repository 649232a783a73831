import { connect, type NatsConnection } from 'nats';
import { testbedNatsOptions } from './nats-keys';
import type { TestbedStatus } from './testbed';

/**
 * A NATS connection for a test or a benchmark that watches the cluster from outside. The
 * witness comes first (no fault of the testbed's tests cuts it or powers it off), then the
 * storage nodes. A server that went silent (its node cut off: connects hang rather than fail)
 * is given up on within seconds, not after the client's default 20 s connect timeout.
 */
export function observerConnection(status: TestbedStatus): Promise<NatsConnection> {
  const byRole = (role: string) => status.nodes.filter((n) => n.role === role && n.nats).map((n) => n.nats!);
  return connect({
    servers: [...byRole('witness'), ...byRole('storage')],
    noRandomize: true,
    timeout: 2_000,
    reconnectTimeWait: 250,
    maxReconnectAttempts: -1,
    pingInterval: 1_000,
    maxPingOut: 2,
    ...testbedNatsOptions(status.root),
  });
}
