import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QueuedIterator, KvEntry } from 'nats';
import { CLUSTER_BUCKET, type ClusterRecord } from '@tandem/contracts';
import { bindKv } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

const KEY = 'cluster';

export type MembershipListener = (cluster: ClusterRecord | null, source: 'kv' | 'cache') => void;

/** A cluster record as stored, checked enough that a mangled one cannot crash the heartbeat. */
export function parseClusterRecord(raw: string): ClusterRecord | null {
  const v = JSON.parse(raw) as Partial<ClusterRecord> | null;
  if (!v || typeof v.id !== 'string' || !Array.isArray(v.nodes)) return null;
  const ok = v.nodes.every((n) => n && typeof n.id === 'string' && (n.heartbeatAddress === null || typeof n.heartbeatAddress === 'string'));
  return ok ? (v as ClusterRecord) : null;
}

/**
 * Who is in the cluster, from the replicated cluster record (watched, not polled). The last
 * record seen is kept in the state directory: a heartbeat service that starts while its NATS
 * server cannot reach JetStream still knows whom to watch. A KV watch that fails is restarted;
 * meanwhile the last known membership stays in force.
 */
@Injectable()
export class ClusterMembershipService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('cluster-membership');
  private readonly listeners: MembershipListener[] = [];
  private current: ClusterRecord | null = null;
  private iter?: QueuedIterator<KvEntry>;
  private stopped = false;
  private readonly cacheFile: string;

  constructor(@Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext) {
    this.cacheFile = join(ctx.config.stateDir, 'heartbeat', 'cluster.json');
    try {
      const cached = parseClusterRecord(readFileSync(this.cacheFile, 'utf8'));
      if (cached && cached.id === ctx.config.clusterId) {
        this.current = cached;
        this.logger.log(`last known cluster ${cached.id}: ${cached.nodes.map((n) => n.id).join(', ')} (until the cluster record is read)`);
      }
    } catch {
      // no cache yet
    }
  }

  get cluster(): ClusterRecord | null {
    return this.current;
  }

  onChange(listener: MembershipListener): void {
    this.listeners.push(listener);
    listener(this.current, 'cache');
  }

  onModuleInit(): void {
    void this.watchLoop();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.iter?.stop();
  }

  private apply(cluster: ClusterRecord | null): void {
    const before = JSON.stringify(this.current);
    this.current = cluster;
    try {
      mkdirSync(join(this.ctx.config.stateDir, 'heartbeat'), { recursive: true });
      const tmp = `${this.cacheFile}.tmp`;
      writeFileSync(tmp, JSON.stringify(cluster));
      renameSync(tmp, this.cacheFile);
    } catch (err) {
      this.logger.warn(`could not keep the cluster record in ${this.cacheFile}: ${(err as Error).message}`);
    }
    if (JSON.stringify(cluster) === before) return;
    this.logger.log(cluster ? `cluster ${cluster.id}: ${cluster.nodes.map((n) => `${n.id}@${n.heartbeatAddress ?? '-'}`).join(', ')}` : 'no cluster: no peers to watch');
    for (const l of this.listeners) {
      try {
        l(cluster, 'kv');
      } catch (err) {
        this.logger.error(`cluster listener failed: ${(err as Error).message}`);
      }
    }
  }

  private async watchLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        const kv = await bindKv(this.ctx.nc, CLUSTER_BUCKET.bucket);
        let sawEntry = false;
        const it = await kv.watch({
          key: KEY,
          initializedFn: () => {
            if (!sawEntry) this.apply(null);
          },
        });
        this.iter = it;
        for await (const e of it) {
          sawEntry = true;
          let rec: ClusterRecord | null = null;
          if (e.operation === 'PUT' && e.value.length > 0) {
            try {
              rec = parseClusterRecord(new TextDecoder().decode(e.value));
            } catch {
              rec = null;
            }
            if (!rec) {
              this.logger.warn(`cluster record revision ${e.revision} is malformed: ignored`);
              continue;
            }
          }
          this.apply(rec);
        }
      } catch (err) {
        if (!this.stopped) this.logger.warn(`watching the cluster record: ${(err as Error).message}; retrying`);
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}
