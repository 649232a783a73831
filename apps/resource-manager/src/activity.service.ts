import { Inject, Injectable, Logger } from '@nestjs/common';
import { Events } from '@tandem/contracts';
import { OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { currentTraceId } from '@tandem/telemetry';

/**
 * Records actions in the activity log. Entries travel as events through the replicated
 * stream; every node's projector writes them into its own Postgres (see ActivityProjector).
 */
@Injectable()
export class ActivityService {
  private readonly logger = new Logger('activity');

  constructor(
    private readonly events: OrderedEvents,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
  ) {}

  /** Run `fn` as one recorded action: 'started', then 'succeeded' or 'failed' with the error. */
  async track<T>(actor: string, action: string, target: string, fn: () => Promise<T>): Promise<T> {
    await this.record(actor, action, target, 'started');
    try {
      const r = await fn();
      await this.record(actor, action, target, 'succeeded');
      return r;
    } catch (err) {
      await this.record(actor, action, target, 'failed', (err as Error).message);
      throw err;
    }
  }

  async record(actor: string, action: string, target: string, result: 'started' | 'succeeded' | 'failed', error?: string, detail?: string): Promise<void> {
    const traceId = currentTraceId();
    this.logger.log(`${actor} ${action} ${target}: ${result}${error ? ` (${error})` : ''}${traceId ? ` trace ${traceId}` : ''}`);
    this.events.publish(Events.activity, this.ctx.config.clusterId, {
      actor,
      action,
      target,
      result,
      error: error ?? null,
      traceId,
      nodeId: this.ctx.config.nodeId,
      ...(detail !== undefined ? { detail } : {}),
    });
  }
}
