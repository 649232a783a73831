import { z } from 'zod';
import { EntityKind, eventSubject } from './subjects';
import { addressInfoSchema, linkInfoSchema, poolSummarySchema } from './host-ops';
import { localHealthSchema } from './health';

/**
 * Every event is a versioned JSON envelope. `schema` names the payload and its version,
 * e.g. "tandem.node.pools-changed/1". Do not change a schema's meaning: add a new version.
 */
export const eventEnvelopeSchema = z.object({
  schema: z.string().regex(/^tandem\.[a-z-]+\.[a-z-]+\/\d+$/),
  id: z.string().min(8),
  clusterId: z.string().min(1),
  at: z.string().datetime(),
  traceparent: z.string().nullable(),
  source: z.string().min(1),
  entity: z.object({ kind: z.string(), id: z.string() }),
  data: z.unknown(),
});
export type EventEnvelope<T = unknown> = Omit<z.infer<typeof eventEnvelopeSchema>, 'data'> & { data: T };

export interface EventDefinition<T> {
  schema: string;
  entity: EntityKind;
  verb: string;
  description: string;
  data: z.ZodType<T>;
}

function define<T>(entity: EntityKind, verb: string, version: number, description: string, data: z.ZodType<T>): EventDefinition<T> {
  return { schema: `tandem.${entity}.${verb}/${version}`, entity, verb, description, data };
}

/** What one node's heartbeat service sees of a peer, for the node up/suspect/down events. */
const peerLivenessData = z.object({
  observer: z.string(),
  peer: z.string(),
  /** The state the observer reported before this one. */
  previous: z.enum(['unknown', 'up', 'suspect', 'down']),
  /** Per heartbeat channel: milliseconds since the observer last heard the peer on it, null when never. */
  channels: z.object({ udp: z.number().nullable(), nats: z.number().nullable() }),
});

/** One action of the activity log: the payload of its event, and (with its id and time) an entry of GET /api/v1/activity. */
export const activityRecordSchema = z.object({
  /** Who asked: `api@<node>`, the X-Tandem-Actor header, or the service that acted by itself. */
  actor: z.string(),
  /** The operation, e.g. `pool.move`. */
  action: z.string(),
  /** What it acted on, e.g. the pool name. */
  target: z.string(),
  result: z.enum(['started', 'succeeded', 'failed']),
  error: z.string().nullable(),
  traceId: z.string().nullable(),
  nodeId: z.string().nullable(),
  /** More about how it ended, when there is more to say (a hook's exit status and the last lines it printed). */
  detail: z.string().nullable().optional(),
});

/** The catalogue: every event Tandem publishes. */
export const Events = {
  nodePoolsChanged: define('node', 'pools-changed', 1, 'The pools imported on a node, or their health, changed', z.object({ pools: z.array(poolSummarySchema) })),
  nodeLinksChanged: define('node', 'links-changed', 1, 'A network link of a node went up or down', z.object({ links: z.array(linkInfoSchema) })),
  nodeAddressesChanged: define('node', 'addresses-changed', 1, 'The IP addresses on a node changed', z.object({ addresses: z.array(addressInfoSchema) })),
  nodeServiceStarted: define('node', 'service-started', 1, 'A Tandem service started on a node', z.object({ service: z.string(), version: z.string() })),
  nodeServiceStopped: define('node', 'service-stopped', 1, 'A Tandem service stopped cleanly on a node', z.object({ service: z.string() })),
  poolImported: define('pool', 'imported', 1, 'A pool was imported on a node', z.object({ node: z.string(), forced: z.boolean(), epoch: z.number().optional() })),
  poolExported: define('pool', 'exported', 1, 'A pool was exported from a node', z.object({ node: z.string(), forced: z.boolean() })),
  ipAdded: define('ip', 'added', 1, 'A floating IP was brought up on a node', z.object({ node: z.string(), interface: z.string(), address: z.string(), prefix: z.number() })),
  ipRemoved: define('ip', 'removed', 1, 'A floating IP was taken down on a node', z.object({ node: z.string(), interface: z.string(), address: z.string(), prefix: z.number() })),
  poolChanged: define('pool', 'changed', 1, 'An HA pool changed state, owner or configuration (the whole pool record)', z.object({ pool: z.record(z.unknown()) })),
  clusterChanged: define(
    'cluster',
    'changed',
    1,
    'The cluster record changed: created, a node joined, went offline or online, was removed, maintenance toggled',
    z.object({ cluster: z.record(z.unknown()).nullable() }),
  ),
  poolRemoved: define('pool', 'removed', 1, 'An HA pool was dropped from cluster control', z.object({ pool: z.string() })),
  activity: define('cluster', 'activity', 1, 'An entry of the activity log: who did what to which target, and how it ended', activityRecordSchema),
  nodeUp: define('node', 'up', 1, 'An observer hears a peer node again: every heartbeat channel is fresh (published by each observer, on the change only)', peerLivenessData),
  nodeSuspect: define(
    'node',
    'suspect',
    1,
    'An observer lost a peer node on some heartbeat channel but still hears it on another, or hears it late everywhere: raise the alarm, move nothing',
    peerLivenessData,
  ),
  nodeDown: define('node', 'down', 1, 'An observer has heard nothing from a peer node on any heartbeat channel for the heartbeat timeout', peerLivenessData),
  nodeShareUserRefused: define(
    'node',
    'share-user-refused',
    1,
    'A share user cannot log in on a node: its unix account could not be made there (the name or the uid belongs to another account of that node)',
    z.object({ node: z.string(), user: z.string(), uid: z.number(), reason: z.string() }),
  ),
  nodeHealthChanged: define('node', 'health-changed', 1, 'The local health of a node changed: its client link, its pools, its services', localHealthSchema),
  poolFailedOver: define(
    'pool',
    'failed-over',
    1,
    'An HA pool was taken over automatically by another node (the whole failover is one trace)',
    z.object({
      from: z.string(),
      to: z.string(),
      reason: z.enum(['node-down', 'client-link-down', 'pool-faulted', 'pool-lost']),
      epoch: z.number(),
      /**
       * Milliseconds from the first sign of the fault to the pool served again, split by phase:
       * detection and fence wait for a lost node; release (IPs, shares, export on the owner, which
       * is still alive) for a local fault.
       */
      timings: z.object({ detectionMs: z.number(), fenceWaitMs: z.number(), releaseMs: z.number(), importMs: z.number(), ipsMs: z.number(), sharesMs: z.number(), totalMs: z.number() }),
      traceId: z.string().nullable(),
    }),
  ),
  poolFailoverFailed: define(
    'pool',
    'failover-failed',
    1,
    'An automatic failover of an HA pool found no node to run it, or failed: the pool is inactive with the reason',
    z.object({ from: z.string(), reason: z.string() }),
  ),
  poolFenced: define(
    'pool',
    'fenced',
    1,
    'A node stopped an HA pool by itself because it lost its ownership lease (no witness, no peer confirming it): IPs down, shares down, forced export',
    z.object({
      node: z.string(),
      epoch: z.number().nullable(),
      /** How the pool was released: a forced export, or the harder fence when the export did not finish in time. */
      released: z.enum(['exported', 'hard-fence', 'failed']),
      error: z.string().nullable(),
    }),
  ),
  failoverDeclined: define(
    'cluster',
    'failover-declined',
    1,
    'Automatic failover would be needed but is declined, with the reason (maintenance mode, no witness, a node is only suspect ...); also shown in cluster status',
    z.object({ observer: z.string(), pools: z.array(z.string()), reason: z.string() }),
  ),
  replicationSnapshotTaken: define(
    'replication',
    'snapshot-taken',
    1,
    'The active node of a replicated pool took its scheduled snapshot (and expired the oldest beyond retention)',
    z.object({
      node: z.string(),
      snapshot: z.string(),
      expired: z.array(z.string()),
      /** The snapshots retention would have expired but a replica still needs as its incremental base (held). */
      keptForReplicas: z.array(z.string()),
    }),
  ),
  poolScheduledSnapshot: define(
    'pool',
    'scheduled-snapshot',
    1,
    "A snapshot schedule of a pool took its snapshot on the node serving it (recursive), and destroyed that schedule's oldest beyond its keep",
    z.object({
      node: z.string(),
      schedule: z.string(),
      /** Short name (`tandem-<schedule>-<yyyymmdd-hhmmss>`). */
      snapshot: z.string(),
      /** The schedule's snapshots destroyed (short names; on every dataset that had them). */
      expired: z.array(z.string()),
    }),
  ),
  replicationTransferred: define(
    'replication',
    'transferred',
    1,
    'A passive node pulled and applied snapshots of a replicated pool',
    z.object({
      from: z.string(),
      to: z.string(),
      snapshot: z.string(),
      kind: z.enum(['full', 'incremental']),
      bytes: z.number(),
      ms: z.number(),
      /** Snapshots the passive deleted because the active no longer has them. */
      expired: z.array(z.string()),
    }),
  ),
  replicationProgress: define(
    'replication',
    'progress',
    1,
    'A running transfer of a replicated pool: bytes so far and the estimated total',
    z.object({
      from: z.string(),
      to: z.string(),
      dataset: z.string(),
      kind: z.enum(['full', 'incremental']),
      bytes: z.number(),
      total: z.number().nullable(),
      percent: z.number().nullable(),
    }),
  ),
  replicationBootstrapStarted: define(
    'replication',
    'bootstrap-started',
    1,
    'No snapshot is common to the active and a passive (first attach, or a passive away past the retention window): a full resync starts',
    z.object({
      from: z.string(),
      to: z.string(),
      reason: z.string(),
    }),
  ),
  replicationKeptAside: define(
    'replication',
    'kept-aside',
    1,
    "A replica's own data was kept aside (never destroyed) before it was overwritten: where it went",
    z.object({
      node: z.string(),
      dataset: z.string(),
      reason: z.string(),
    }),
  ),
  replicationLocked: define(
    'replication',
    'locked',
    1,
    'An automatic failover of a replicated pool: sync is locked until `tandem replication resume`',
    z.object({
      message: z.string(),
      from: z.string(),
      to: z.string(),
      lastSnapshot: z.string().nullable(),
      /** Seconds of writes on the failed node that the new active may lack (since its newest applied snapshot). */
      possiblyMissingS: z.number().nullable(),
    }),
  ),
  replicationResumed: define(
    'replication',
    'resumed',
    1,
    'Sync of a replicated pool was resumed by an operator after an automatic failover',
    z.object({
      by: z.string(),
      from: z.string(),
      to: z.array(z.string()),
    }),
  ),
  replicationError: define(
    'replication',
    'error',
    1,
    'Replication of a pool failed (it is retried with backoff): the cause',
    z.object({
      from: z.string().nullable(),
      to: z.string().nullable(),
      reason: z.string(),
      failures: z.number(),
    }),
  ),
  replicationHostKeyRefused: define(
    'replication',
    'host-key-refused',
    1,
    "A node refused a peer's replication endpoint: it presented another host key than the one pinned for it",
    z.object({
      node: z.string(),
      peer: z.string(),
      pinned: z.array(z.string()),
      presented: z.string(),
    }),
  ),
  replicationWarning: define(
    'replication',
    'warning',
    1,
    'Something about a replicated pool an operator should know (e.g. the copies differ in size by more than 10 %)',
    z.object({
      reason: z.string(),
    }),
  ),
} as const;

export type EventName = keyof typeof Events;

export function subjectFor<T>(def: EventDefinition<T>, entityId: string): string {
  return eventSubject(def.entity, entityId, def.verb);
}

/** IP addresses contain '.' or ':', which cannot stand in a subject token. */
export function ipEntityId(address: string): string {
  return address.replace(/[.:]/g, '_');
}
