import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'nats';
import { Inject } from '@nestjs/common';
import { KeyedMutex } from '@tandem/host';
import { ErrorCode, POOL_OPS_WILDCARD, TandemError, clusterOpRequests, poolOpOf, poolOpRequests, type ClusterOperation, type PoolOperation } from '@tandem/contracts';
import { serveRpcMessage } from '@tandem/messaging';
import { LeadershipService, SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { PoolService } from './pool.service';
import { ClusterService } from './cluster.service';

const OPS = { ...poolOpRequests, ...clusterOpRequests };
type Op = PoolOperation | ClusterOperation;

/**
 * Serves the HA pool operations on tandem.cluster.rm.* — only while this node holds the
 * resource-manager lease, so exactly one instance answers. Operations on one pool run one at a
 * time; a second one arriving meanwhile is refused "in transition" by the pool's state.
 */
@Injectable()
export class PoolOpsServer implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('pool-ops');
  private sub?: Subscription;
  private readonly locks = new KeyedMutex();

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly leadership: LeadershipService,
    private readonly pools: PoolService,
    private readonly cluster: ClusterService,
  ) {}

  onModuleInit(): void {
    this.leadership.onChange((leader) => (leader ? this.start() : this.stop()));
  }

  private start(): void {
    if (this.sub) return;
    this.sub = this.ctx.nc.subscribe(POOL_OPS_WILDCARD, {
      callback: (_err, msg) => {
        const op = poolOpOf(msg.subject);
        const known = op && Object.prototype.hasOwnProperty.call(OPS, op) ? (op as Op) : null;
        void serveRpcMessage(msg, known, known ? (data) => this.dispatch(known, data) : null, known ? OPS[known] : undefined);
      },
    });
    this.logger.log('serving HA pool operations');
  }

  private stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private dispatch(op: Op, data: unknown): Promise<unknown> {
    const req = data as { pool?: string };
    if (op === 'pool.list') return this.pools.list();
    if (op === 'pool.get') return this.pools.get(req.pool!);
    if (op === 'cluster.status') return this.cluster.status();
    // cluster changes run one at a time
    const name = op.startsWith('pool.') ? req.pool! : '(cluster)';
    if (this.locks.isBusy(name)) {
      return Promise.reject(new TandemError(ErrorCode.InTransition, `${name === '(cluster)' ? 'the cluster' : `pool ${name}`} is in transition: another operation on it is running, try again when it is done`, name === '(cluster)' ? 'cluster' : 'pool'));
    }
    return this.locks.run<unknown>(name, async () => {
      switch (op) {
        case 'pool.attach':
          return this.pools.attach(data as never);
        case 'pool.move':
          return this.pools.move(data as never);
        case 'pool.detach':
          return this.pools.detach(data as never);
        case 'pool.export':
          return this.pools.export(data as never);
        case 'pool.reattach':
          return this.pools.reattach(data as never);
        case 'pool.remove':
          return this.pools.remove(data as never);
        case 'pool.mark-usable':
          return this.pools.markUsable(data as never);
        case 'cluster.create':
          return this.cluster.create(data as never);
        case 'cluster.join':
          return this.cluster.join(data as never);
        case 'node.offline':
          return this.cluster.offline(data as never);
        case 'node.online':
          return this.cluster.online(data as never);
        case 'node.remove':
          return this.cluster.remove(data as never);
        case 'maintenance.set':
          return this.cluster.maintenance(data as never);
      }
    });
  }

  onApplicationShutdown(): void {
    this.stop();
  }
}
