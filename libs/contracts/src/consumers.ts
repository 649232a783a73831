import { Events, type EventDefinition } from './events';
import { EVENTS_STREAM } from './streams';
import { eventWildcard } from './subjects';
import { nodeIdSchema } from './names';

/** A durable JetStream consumer: declared here, provisioned at start by the service that reads it. */
export interface ConsumerDeclaration<T> {
  stream: string;
  durable: string;
  description: string;
  /** The events it reads (their subjects are its filter; each payload is parsed with its schema). */
  event: EventDefinition<T>;
  filterSubject: string;
  /** How long a delivered event may stay unacknowledged before it is delivered again. */
  ackWaitMs: number;
}

/**
 * Each node's projection of the activity log into its own Postgres: every activity event from the
 * start of the stream, written once (keyed by event id), so any node's API lists the same log and
 * a rebuilt Postgres is filled again from the stream.
 */
export function activityProjectionConsumer(nodeId: string): ConsumerDeclaration<(typeof Events.activity)['data']['_output']> {
  nodeIdSchema.parse(nodeId);
  return {
    stream: EVENTS_STREAM.name,
    durable: `activity-${nodeId}`,
    description: `The activity log of node ${nodeId}'s Postgres`,
    event: Events.activity,
    filterSubject: eventWildcard(Events.activity.entity, Events.activity.verb),
    // a Postgres that is slow to answer must not see the same entry delivered twice meanwhile
    ackWaitMs: 30_000,
  };
}
