import { z } from 'zod';
import { EntityKind, eventSubject } from './subjects';
import type { AddressInfo, LinkInfo, PoolSummary } from './host-ops';

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

const poolSummary = z.object({
  name: z.string(),
  guid: z.string(),
  health: z.string(),
  sizeBytes: z.number(),
  allocatedBytes: z.number(),
  freeBytes: z.number(),
}) as z.ZodType<PoolSummary>;

const linkInfo = z.object({
  name: z.string(),
  up: z.boolean(),
  carrier: z.boolean(),
  mtu: z.number(),
  mac: z.string().nullable(),
}) as z.ZodType<LinkInfo>;

const addressInfo = z.object({
  interface: z.string(),
  address: z.string(),
  prefix: z.number(),
  family: z.union([z.literal(4), z.literal(6)]),
}) as z.ZodType<AddressInfo>;

/** The catalogue: every event Tandem publishes. */
export const Events = {
  nodePoolsChanged: define('node', 'pools-changed', 1, 'The pools imported on a node, or their health, changed', z.object({ pools: z.array(poolSummary) })),
  nodeLinksChanged: define('node', 'links-changed', 1, 'A network link of a node went up or down', z.object({ links: z.array(linkInfo) })),
  nodeAddressesChanged: define('node', 'addresses-changed', 1, 'The IP addresses on a node changed', z.object({ addresses: z.array(addressInfo) })),
  nodeServiceStarted: define('node', 'service-started', 1, 'A Tandem service started on a node', z.object({ service: z.string(), version: z.string() })),
  nodeServiceStopped: define('node', 'service-stopped', 1, 'A Tandem service stopped cleanly on a node', z.object({ service: z.string() })),
  poolImported: define('pool', 'imported', 1, 'A pool was imported on a node', z.object({ node: z.string(), forced: z.boolean(), epoch: z.number().optional() })),
  poolExported: define('pool', 'exported', 1, 'A pool was exported from a node', z.object({ node: z.string(), forced: z.boolean() })),
  ipAdded: define('ip', 'added', 1, 'A floating IP was brought up on a node', z.object({ node: z.string(), interface: z.string(), address: z.string(), prefix: z.number() })),
  ipRemoved: define('ip', 'removed', 1, 'A floating IP was taken down on a node', z.object({ node: z.string(), interface: z.string(), address: z.string(), prefix: z.number() })),
  poolChanged: define('pool', 'changed', 1, 'An HA pool changed state, owner or configuration (the whole pool record)', z.object({ pool: z.record(z.unknown()) })),
  clusterChanged: define('cluster', 'changed', 1, 'The cluster record changed: created, a node joined, went offline or online, was removed, maintenance toggled', z.object({ cluster: z.record(z.unknown()).nullable() })),
  poolRemoved: define('pool', 'removed', 1, 'An HA pool was dropped from cluster control', z.object({ pool: z.string() })),
  activity: define('cluster', 'activity', 1, 'An entry of the activity log: who did what to which target, and how it ended', z.object({
    actor: z.string(),
    action: z.string(),
    target: z.string(),
    result: z.enum(['started', 'succeeded', 'failed']),
    error: z.string().nullable(),
    traceId: z.string().nullable(),
    nodeId: z.string().nullable(),
  })),
} as const;

export type EventName = keyof typeof Events;

export function subjectFor<T>(def: EventDefinition<T>, entityId: string): string {
  return eventSubject(def.entity, entityId, def.verb);
}

/** IP addresses contain '.' or ':', which cannot stand in a subject token. */
export function ipEntityId(address: string): string {
  return address.replace(/[.:]/g, '_');
}
