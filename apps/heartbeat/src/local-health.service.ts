import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Events, SERVICES, type ServiceName } from '@tandem/contracts';
import { EventPublisher, HostClient, OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { HEARTBEAT_CONFIG, type HeartbeatConfig } from './heartbeat.config';

export type ServiceHealth = 'ready' | 'not-ready' | 'down';

export interface LocalHealth {
  /** The link that carries the cluster's floating IPs: up with carrier, down or missing, or unknown (host-executor silent). */
  clientLink: 'up' | 'down' | 'unknown';
  /** The pools imported here and their health; null when host-executor did not answer. */
  pools: Array<{ name: string; health: string }> | null;
  /** The node's other services, by their readiness endpoint on this host. */
  services: Record<string, ServiceHealth>;
}

/** The other services of this node, probed on their health ports. */
const PROBED: readonly ServiceName[] = (Object.keys(SERVICES) as ServiceName[]).filter((s) => s !== 'heartbeat');

/** The HTTP readiness of one local service. */
export async function probeService(port: number, timeoutMs = 1_000): Promise<ServiceHealth> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    await r.body?.cancel().catch(() => undefined);
    return r.status === 200 ? 'ready' : 'not-ready';
  } catch {
    return 'down';
  }
}

/** Local health: what this node can offer clients. Checked every few seconds, published when it changes. */
@Injectable()
export class LocalHealthService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('local-health');
  private readonly events: OrderedEvents;
  private timer?: NodeJS.Timeout;
  private running = false;
  private last: LocalHealth | null = null;
  private lastKey = '';
  private checkedAt = 0;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(HEARTBEAT_CONFIG) private readonly cfg: HeartbeatConfig,
    private readonly host: HostClient,
    publisher: EventPublisher,
  ) {
    this.events = new OrderedEvents(ctx.nc, publisher, this.logger);
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.refresh(), this.cfg.localHealthIntervalMs);
    setTimeout(() => void this.refresh(), 200);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.race([this.events.drain(), new Promise((r) => setTimeout(r, 2_000))]);
  }

  current(): (LocalHealth & { checkedAgoMs: number | null }) | null {
    return this.last ? { ...this.last, checkedAgoMs: Math.round(performance.now() - this.checkedAt) } : null;
  }

  async check(): Promise<LocalHealth> {
    const node = this.ctx.config.nodeId;
    const budget = Math.max(1_000, Math.min(5_000, this.cfg.localHealthIntervalMs));
    const [links, pools, ...services] = await Promise.all([
      this.host.call(node, 'link.list', {}, budget).catch(() => null),
      this.host.call(node, 'pool.list', {}, budget).catch(() => null),
      ...PROBED.map((s) => probeService(SERVICES[s].healthPort)),
    ]);
    const link = links?.find((l) => l.name === this.cfg.clientInterface);
    return {
      clientLink: links === null ? 'unknown' : link && link.up && link.carrier ? 'up' : 'down',
      pools: pools === null ? null : pools.map((p) => ({ name: p.name, health: p.health })).sort((a, b) => a.name.localeCompare(b.name)),
      services: Object.fromEntries(PROBED.map((s, i) => [s, services[i]])),
    };
  }

  async refresh(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const h = await this.check();
      this.checkedAt = performance.now();
      this.last = h;
      const key = JSON.stringify(h);
      if (key !== this.lastKey) {
        this.lastKey = key;
        const pools = h.pools === null ? 'unknown' : h.pools.map((p) => `${p.name} ${p.health}`).join(', ') || 'none';
        const services = Object.entries(h.services)
          .map(([s, v]) => `${s} ${v}`)
          .join(', ');
        this.logger.log(`local health: client link ${this.cfg.clientInterface} ${h.clientLink}; pools ${pools}; ${services}`);
        this.events.publish(Events.nodeHealthChanged, this.ctx.config.nodeId, h);
      }
    } catch (err) {
      this.logger.warn(`local health check failed: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }
}
