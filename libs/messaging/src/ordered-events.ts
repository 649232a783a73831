import type { NatsConnection } from 'nats';
import type { EventDefinition } from '@tandem/contracts';
import { traceHeaders } from './connection';
import type { EventPublisher } from './event-publisher';

/**
 * Publishes events one after the other, in the order they were decided, without ever holding up
 * the caller (the failure detector must keep ticking, a failover must not wait, while JetStream
 * elects a stream leader or this node is cut off). An event that JetStream did not acknowledge is
 * sent again with the same event id (the stream drops duplicates by id within its window), for
 * about a minute by default (a stream re-electing its leader after a partition heals can take
 * that long), then given up with a warning. A bounded backlog: beyond it new events are dropped,
 * with a warning.
 */
export class OrderedEvents {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  published = 0;
  failed = 0;
  dropped = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly publisher: EventPublisher,
    private readonly logger: { warn(message: string): void },
    private readonly opts: { attempts: number; ackTimeoutMs: number; pauseMs: number; maxBacklog: number } = { attempts: 12, ackTimeoutMs: 4_000, pauseMs: 1_000, maxBacklog: 1_000 },
  ) {}

  publish<T>(def: EventDefinition<T>, entityId: string, data: T): void {
    if (this.pending >= this.opts.maxBacklog) {
      this.dropped++;
      this.logger.warn(`event backlog full (${this.pending}): ${def.schema} for ${entityId} dropped`);
      return;
    }
    // built now: the envelope carries the time the change was seen, and keeps its id across retries
    const { subject, envelope } = this.publisher.build(def, entityId, data);
    const bytes = new TextEncoder().encode(JSON.stringify(envelope));
    this.pending++;
    this.chain = this.chain
      .then(async () => {
        for (let attempt = 1; ; attempt++) {
          try {
            await this.nc.jetstream().publish(subject, bytes, { msgID: envelope.id, headers: traceHeaders(), timeout: this.opts.ackTimeoutMs });
            this.published++;
            return;
          } catch (err) {
            if (attempt >= this.opts.attempts || this.nc.isClosed()) {
              this.failed++;
              this.logger.warn(`could not publish ${def.schema} for ${entityId} (${attempt} attempts): ${(err as Error).message}`);
              return;
            }
            await new Promise((r) => setTimeout(r, this.opts.pauseMs));
          }
        }
      })
      .finally(() => {
        this.pending--;
      });
  }

  /** Resolves when everything queued so far was published or given up. */
  drain(): Promise<void> {
    return this.chain;
  }
}
