import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AckPolicy, DeliverPolicy, type ConsumerMessages } from 'nats';
import { EVENTS_STREAM, eventEnvelopeSchema, Events } from '@tandem/contracts';
import { ActivityLog } from '@tandem/persistence';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

/**
 * Feeds this node's Postgres from the replicated event stream: every activity entry, written
 * once (keyed by event id), so any node's API lists the same log, and losing one node's
 * Postgres loses nothing.
 */
@Injectable()
export class ActivityProjector implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('activity-projector');
  private messages?: ConsumerMessages;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly log: ActivityLog,
  ) {}

  async onModuleInit(): Promise<void> {
    const durable = `activity-${this.ctx.config.nodeId}`;
    const jsm = await this.ctx.nc.jetstreamManager();
    const subject = `tandem.evt.cluster.*.${Events.activity.verb}`;
    await jsm.consumers.add(EVENTS_STREAM.name, { durable_name: durable, filter_subject: subject, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: 30_000_000_000, max_deliver: -1 }).catch(async (err) => {
      if (!/already in use|exists/i.test(String((err as Error).message))) throw err;
    });
    const consumer = await this.ctx.nc.jetstream().consumers.get(EVENTS_STREAM.name, durable);
    this.messages = await consumer.consume({ max_messages: 100 });
    void (async () => {
      for await (const m of this.messages!) {
        try {
          const env = eventEnvelopeSchema.parse(m.json());
          const d = Events.activity.data.parse(env.data);
          await this.log.record({ ...d, eventId: env.id, at: new Date(env.at) });
          m.ack();
        } catch (err) {
          if (err instanceof Error && err.name === 'ZodError') {
            this.logger.warn(`dropping a malformed activity event: ${err.message}`);
            m.term();
          } else {
            m.nak(2_000);
          }
        }
      }
    })();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.messages?.close();
  }
}
