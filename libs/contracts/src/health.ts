import { z } from 'zod';

/**
 * What a node's heartbeat service says about its node and its peers. Version 1; add fields,
 * never change their meaning.
 */

/** A node's own health: published as `tandem.evt.node.<id>.health-changed` and part of its heartbeat view. */
export const localHealthSchema = z.object({
  /** The link that carries the cluster's floating IPs: up with carrier, down or missing, or unknown (host-executor silent). */
  clientLink: z.enum(['up', 'down', 'unknown']),
  /** null: the node's host-executor did not answer, so its pools are not known */
  pools: z.array(z.object({ name: z.string(), health: z.string() })).nullable(),
  /** The node's other services, by their readiness endpoint on this host. */
  services: z.record(z.enum(['ready', 'not-ready', 'down'])),
});
export type LocalHealth = z.infer<typeof localHealthSchema>;

export const LIVENESS_STATES = ['unknown', 'up', 'suspect', 'down'] as const;
export const livenessStateSchema = z.enum(LIVENESS_STATES);

/** Per heartbeat channel: milliseconds since the peer was last heard on it, null when never. */
export const channelAgesSchema = z.object({ udp: z.number().nullable(), nats: z.number().nullable() });

/** What one node sees of one peer. */
export const peerReportSchema = z.object({
  peer: z.string(),
  state: livenessStateSchema,
  /** Milliseconds since the peer entered `state`. */
  stateForMs: z.number(),
  channels: channelAgesSchema,
  adminState: z.enum(['online', 'offline']).nullable(),
  heartbeatAddress: z.string().nullable(),
  /**
   * How long ago this node sent the newest heartbeat that the peer says it heard (the peer's
   * echo), or null. The peer cannot declare this node down before that send + its timeout:
   * a node that lost the witness keeps its pools only while a peer keeps confirming it.
   */
  confirmedSentMsAgo: z.number().nullable(),
});
export type PeerReport = z.infer<typeof peerReportSchema>;

const channelCounters = z.object({
  accepted: z.number(),
  rejected: z.record(z.number()),
});

/**
 * The heartbeat view of a node: the answer on `tandem.node.<id>.health.heartbeat` (and GET
 * /health/peers of its heartbeat service). Any answer proves the node's heartbeat service is
 * alive; the failover path reads the peers and the local health from it.
 */
export const heartbeatViewSchema = z.object({
  node: z.string(),
  uptimeMs: z.number(),
  incarnation: z.number(),
  /** Grows with every answer. */
  seq: z.number(),
  timings: z.object({ intervalMs: z.number(), timeoutMs: z.number() }),
  cluster: z.object({ id: z.string(), member: z.boolean() }).nullable(),
  peers: z.array(peerReportSchema),
  channels: z.object({
    udp: channelCounters.extend({
      bound: z.string().nullable(),
      port: z.number(),
      error: z.string().nullable(),
      sent: z.number(),
      sendErrors: z.number(),
      lastSendError: z.string().nullable(),
    }),
    nats: channelCounters.extend({ subject: z.string(), sent: z.number(), connected: z.boolean() }),
  }),
  /** null until the first local check finished. */
  local: localHealthSchema.extend({ checkedAgoMs: z.number().nullable() }).nullable(),
});
export type HeartbeatView = z.infer<typeof heartbeatViewSchema>;
