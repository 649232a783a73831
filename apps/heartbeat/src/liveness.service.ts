import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { healthSubject, type HeartbeatView } from '@tandem/contracts';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import type { Subscription } from 'nats';
import { LocalHealthService } from './local-health.service';
import { PeerMonitorService } from './peer-monitor.service';

/**
 * This node's liveness over NATS and its view of the cluster: answers pings on
 * tandem.node.<node>.health.heartbeat with `node`, a sequence number and monotonic uptime (the
 * original reply, still what a ping needs), plus what it sees of its peers and its local health.
 * The same view is served over HTTP at GET /health/peers.
 */
@Injectable()
export class LivenessService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('liveness');
  private sub?: Subscription;
  private seq = 0;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly monitor: PeerMonitorService,
    private readonly local: LocalHealthService,
  ) {}

  /** The whole view: who this node is, its peers and their channels, its local health. */
  view(): Omit<HeartbeatView, 'seq'> {
    const m = this.monitor.view();
    return {
      node: this.ctx.config.nodeId,
      uptimeMs: Math.round(performance.now()),
      incarnation: m.incarnation,
      timings: m.timings,
      cluster: m.cluster,
      peers: m.peers,
      channels: m.channels,
      local: this.local.current(),
    };
  }

  onModuleInit(): void {
    this.sub = this.ctx.nc.subscribe(healthSubject(this.ctx.config.nodeId, 'heartbeat'), {
      callback: (_err, msg) => {
        try {
          const answer: HeartbeatView = { ...this.view(), seq: ++this.seq };
          msg.respond(new TextEncoder().encode(JSON.stringify(answer)));
        } catch (err) {
          this.logger.warn(`could not answer a liveness ping: ${(err as Error).message}`);
        }
      },
    });
    this.logger.log(`answering liveness pings for ${this.ctx.config.nodeId}`);
  }

  onApplicationShutdown(): void {
    this.sub?.unsubscribe();
  }
}
