import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type NatsConnection } from 'nats';
import { eventEnvelopeSchema, subjectFor, type EventDefinition, type EventEnvelope } from '@tandem/contracts';
import { traceHeaders } from './connection';
import { currentTraceparent } from '@tandem/telemetry';

/** Publishes catalogue events into the events stream; the envelope is validated before it leaves. */
export class EventPublisher {
  constructor(
    private readonly nc: NatsConnection,
    private readonly clusterId: string,
    private readonly source: string,
  ) {}

  build<T>(def: EventDefinition<T>, entityId: string, data: T): { subject: string; envelope: EventEnvelope<T> } {
    const envelope: EventEnvelope<T> = {
      schema: def.schema,
      id: randomUUID(),
      clusterId: this.clusterId,
      at: new Date().toISOString(),
      traceparent: currentTraceparent(),
      source: this.source,
      entity: { kind: def.entity, id: entityId },
      data: def.data.parse(data),
    };
    eventEnvelopeSchema.parse(envelope);
    return { subject: subjectFor(def, entityId), envelope };
  }

  /** Publish durably (JetStream ack; de-duplicated by event id). */
  async publish<T>(def: EventDefinition<T>, entityId: string, data: T): Promise<EventEnvelope<T>> {
    const { subject, envelope } = this.build(def, entityId, data);
    const h = traceHeaders(natsHeaders());
    await this.nc.jetstream().publish(subject, new TextEncoder().encode(JSON.stringify(envelope)), { msgID: envelope.id, headers: h, timeout: 5_000 });
    return envelope;
  }
}
