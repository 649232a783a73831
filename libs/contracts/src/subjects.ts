import { nodeIdSchema } from './names';

/**
 * Every NATS subject Tandem uses is spelled here and nowhere else.
 * Shape: tandem.<kind>.<entity>.<id>.<verb>
 */
export const SUBJECT_ROOT = 'tandem';

/** Host-executor request/reply: tandem.node.<nodeId>.exec.<operation> */
export function execSubject(nodeId: string, operation: string): string {
  nodeIdSchema.parse(nodeId);
  return `${SUBJECT_ROOT}.node.${nodeId}.exec.${operation}`;
}

export function execWildcard(nodeId: string): string {
  nodeIdSchema.parse(nodeId);
  return `${SUBJECT_ROOT}.node.${nodeId}.exec.>`;
}

/** The operation part of an exec subject, or null if the subject is not one. */
export function operationOf(subject: string, nodeId: string): string | null {
  const prefix = `${SUBJECT_ROOT}.node.${nodeId}.exec.`;
  return subject.startsWith(prefix) ? subject.slice(prefix.length) : null;
}

/** Resource-manager request/reply (pool and cluster operations): tandem.cluster.rm.<operation> */
const RM_PREFIX = `${SUBJECT_ROOT}.cluster.rm.`;
export function resourceManagerSubject(operation: string): string {
  if (!/^[a-z][a-z-]*\.[a-z][a-z-]*$/.test(operation)) throw new Error(`operation "${operation}" is malformed`);
  return `${RM_PREFIX}${operation}`;
}
export const RESOURCE_MANAGER_WILDCARD = `${RM_PREFIX}>`;
/** The operation part of a resource-manager subject, or null if the subject is not one. */
export function resourceManagerOperationOf(subject: string): string | null {
  return subject.startsWith(RM_PREFIX) ? subject.slice(RM_PREFIX.length) : null;
}

/** Byte streams (zfs send/receive) flow on tandem.node.<nodeId>.stream.<streamId> */
export function streamSubject(nodeId: string, streamId: string): string {
  nodeIdSchema.parse(nodeId);
  if (!/^[A-Za-z0-9]{8,64}$/.test(streamId)) throw new Error(`stream id "${streamId}" is malformed`);
  return `${SUBJECT_ROOT}.node.${nodeId}.stream.${streamId}`;
}

/** Health of one service of one node: tandem.node.<nodeId>.health.<service> */
export function healthSubject(nodeId: string, service: string): string {
  nodeIdSchema.parse(nodeId);
  return `${SUBJECT_ROOT}.node.${nodeId}.health.${service}`;
}

export type EventKind = 'evt';
/** What events are about: the second token of their subject. */
export const ENTITY_KINDS = ['node', 'pool', 'cluster', 'ip', 'share', 'replication'] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];
/** An entity's id as it may stand in a subject. */
export const EVENT_ENTITY_ID = /^[A-Za-z0-9_:-]+$/;

/** Events: tandem.evt.<entity>.<id>.<verb>, e.g. tandem.evt.pool.tank.failed-over */
export function eventSubject(entity: EntityKind, id: string, verb: string): string {
  if (!EVENT_ENTITY_ID.test(id)) throw new Error(`event id "${id}" cannot be used in a subject`);
  if (!/^[a-z][a-z-]*$/.test(verb)) throw new Error(`event verb "${verb}" is malformed`);
  return `${SUBJECT_ROOT}.evt.${entity}.${id}.${verb}`;
}

export const EVENTS_WILDCARD = `${SUBJECT_ROOT}.evt.>`;

/** The events of one kind of entity (every one of them, or the one of `id`); neither: every event. */
export function entityEventsWildcard(entity?: EntityKind, id?: string): string {
  if (entity === undefined) return EVENTS_WILDCARD;
  if (id !== undefined && !EVENT_ENTITY_ID.test(id)) throw new Error(`event id "${id}" cannot be used in a subject`);
  return `${SUBJECT_ROOT}.evt.${entity}.${id ?? '*'}.*`;
}

/** One kind of event of every entity of a kind, e.g. every node's health-changed. */
export function eventWildcard(entity: EntityKind, verb: string): string {
  return `${SUBJECT_ROOT}.evt.${entity}.*.${verb}`;
}

/**
 * Heartbeats of one node over the NATS cluster (core NATS, never stored in a stream):
 * tandem.node.<nodeId>.heartbeat
 */
export function heartbeatSubject(nodeId: string): string {
  nodeIdSchema.parse(nodeId);
  return `${SUBJECT_ROOT}.node.${nodeId}.heartbeat`;
}

/** Every node's heartbeats, for the heartbeat service of each node. */
export const HEARTBEAT_WILDCARD = `${SUBJECT_ROOT}.node.*.heartbeat`;

/** The node a heartbeat subject belongs to, or null if the subject is not one. */
export function heartbeatSender(subject: string): string | null {
  const m = /^tandem\.node\.([^.]+)\.heartbeat$/.exec(subject);
  return m && nodeIdSchema.safeParse(m[1]).success ? m[1] : null;
}
