import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Events, healthSubject, type HaPool } from '@tandem/contracts';
import { bringDownSteps, bringUpSteps, inactive, planFailover, serving, type Liveness, type NodeView } from '@tandem/domain';
import { EventPublisher, HostClient } from '@tandem/messaging';
import { LeadershipService, SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { inSpan } from '@tandem/telemetry';
import { ActivityService } from './activity.service';
import { ClusterStore } from './cluster.store';
import { PoolActions } from './pool-actions.service';
import { PoolStore } from './pool.store';

interface PeerView {
  peer: string;
  state: Liveness;
  stateForMs: number;
}

/**
 * Automatic failover, on the active resource-manager: every 250 ms it reads node liveness from
 * this node's heartbeat service and asks the planner what to do. A pool leaves a node that is
 * down on every heartbeat channel only after that node has been down for longer than it takes
 * an isolated node to fence itself (the fence wait); it is then force-imported elsewhere under
 * a new epoch, with its floating IPs and shares — one trace per failover.
 */
@Injectable()
export class FailoverService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('failover');
  private timer?: NodeJS.Timeout;
  private busy = false;
  private readonly lastAutoMove: Record<string, number> = {};
  private readonly failedOn: Record<string, string[]> = {};
  private lastDeclined: string | null = null;
  static readonly FENCE_WAIT_MS = Number(process.env.TANDEM_FENCE_WAIT_MS ?? 7_000);
  static readonly HOLD_DOWN_MS = Number(process.env.TANDEM_HOLD_DOWN_MS ?? 60_000);

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly leadership: LeadershipService,
    private readonly cluster: ClusterStore,
    private readonly pools: PoolStore,
    private readonly actions: PoolActions,
    private readonly activity: ActivityService,
    private readonly events: EventPublisher,
    private readonly host: HostClient,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.tick(), 250);
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private async peers(): Promise<PeerView[] | null> {
    try {
      const msg = await this.ctx.nc.request(healthSubject(this.ctx.config.nodeId, 'heartbeat'), new Uint8Array(0), { timeout: 500 });
      return (JSON.parse(new TextDecoder().decode(msg.data)) as { peers?: PeerView[] }).peers ?? [];
    } catch {
      return null;
    }
  }

  private async answers(node: string): Promise<boolean> {
    try {
      await this.host.call(node, 'node.info', {}, 750);
      return true;
    } catch {
      return false;
    }
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.leadership.isLeader) return;
    this.busy = true;
    try {
      const c = await this.cluster.get();
      if (!c) return;
      const view = await this.peers();
      if (!view) return; // without our own heartbeat view we decide nothing
      const me = this.ctx.config.nodeId;
      const byId = new Map(view.map((p) => [p.peer, p]));
      const nodes: NodeView[] = c.cluster.nodes.map((m) => ({
        id: m.id,
        online: m.adminState === 'online',
        liveness: m.id === me ? 'up' : (byId.get(m.id)?.state ?? 'unknown'),
        clientLinkUp: null,
        faultedPools: [],
      }));
      const pools = await this.pools.list();
      const plan = planFailover({ now: performance.now(), maintenance: c.cluster.maintenance, quorum: true, nodes, pools, failedOn: this.failedOn, lastAutoMove: this.lastAutoMove, holdDownMs: FailoverService.HOLD_DOWN_MS });
      if (plan.declined !== this.lastDeclined) {
        if (plan.declined) this.logger.warn(`automatic failover declined: ${plan.declined}`);
        this.lastDeclined = plan.declined;
      }
      for (const d of plan.decisions) {
        if (d.action !== 'failover' && d.action !== 'inactive') continue;
        // wait out the fence: the lost owner stops its pools before anyone imports them
        const downFor = byId.get(d.from)?.stateForMs ?? 0;
        if (d.reason === 'node-down' && downFor < FailoverService.FENCE_WAIT_MS) continue;
        // majority contact: a node whose host-executor still answers through the NATS cluster is
        // on our side of any partition and alive, whatever its heartbeat says — never take over
        if (d.reason === 'node-down' && (await this.answers(d.from))) {
          this.logger.warn(`node ${d.from} is silent on the heartbeat channels but its host-executor answers: not taking over ${d.pool}`);
          continue;
        }
        const rec = await this.pools.get(d.pool);
        if (!rec || rec.pool.state !== 'serving' || rec.pool.node !== d.from) continue;
        if (d.action === 'inactive') {
          await this.pools.put(inactive(rec.pool, `failed on ${d.from} (${d.reason}): ${d.why}`, new Date()), rec.revision);
          await this.activity.record('cluster', 'pool.failover', d.pool, 'failed', d.why);
          continue;
        }
        await this.failover(rec.pool, rec.revision, d.from, d.to, d.reason, downFor);
      }
    } catch (err) {
      this.logger.warn(`failover check failed: ${(err as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private async failover(pool: HaPool, revision: number, from: string, to: string, reason: string, detectedForMs: number): Promise<void> {
    await inSpan('pool failover', { 'tandem.pool': pool.name, 'tandem.from': from, 'tandem.to': to, 'tandem.reason': reason, 'tandem.fence_wait_ms': detectedForMs }, async () => {
      await this.activity.record('cluster', 'pool.failover', pool.name, 'started');
      const epoch = pool.epoch + 1;
      const moving: HaPool = { ...pool, state: 'in-transition', operation: `failover from ${from} to ${to}`, updatedAt: new Date().toISOString() };
      const rev = await this.pools.put(moving, revision);
      this.logger.warn(`failover: pool ${pool.name} from ${from} (${reason}) to ${to}, epoch ${epoch}`);
      try {
        const steps = bringUpSteps(pool, to, epoch, true);
        await this.actions.run(moving, steps.filter((s) => s.kind !== 'share.start'), null);
        const mountpoint = await this.actions.mountpoint(pool.name, to);
        await this.actions.run({ ...moving, mountpoint }, steps.filter((s) => s.kind === 'share.start'), mountpoint);
        await this.pools.put(serving({ ...moving, mountpoint }, to, epoch, mountpoint, new Date()), rev);
        this.lastAutoMove[pool.name] = performance.now();
        (this.failedOn[pool.name] ??= []).includes(from) || this.failedOn[pool.name].push(from);
        await this.activity.record('cluster', 'pool.failover', pool.name, 'succeeded');
        await this.events.publish(Events.poolFailedOver, pool.name, { from, to, reason, epoch }).catch(() => undefined);
      } catch (err) {
        const failures = await this.actions.runAll(moving, bringDownSteps(moving, to, true));
        const fresh = await this.pools.get(pool.name);
        await this.pools.put({ ...inactive(moving, `failover to ${to} failed: ${(err as Error).message}${failures.length ? `; ${failures.join('; ')}` : ''}`, new Date()), epoch }, fresh?.revision ?? rev);
        (this.failedOn[pool.name] ??= []).push(to);
        await this.activity.record('cluster', 'pool.failover', pool.name, 'failed', (err as Error).message);
      }
    });
  }
}
