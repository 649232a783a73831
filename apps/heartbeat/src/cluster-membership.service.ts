import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_RECORD, type ClusterRecord } from '@tandem/contracts';
import { followRecords, parseRecord } from '@tandem/messaging';
import { writeStateFile } from '@tandem/config';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';

export type MembershipListener = (cluster: ClusterRecord | null, source: 'kv' | 'cache') => void;

/** A cluster record as kept in the state directory (or stored in the KV bucket), parsed with its schema; null when it is not one. */
export function parseClusterRecord(raw: string): ClusterRecord | null {
  const r = parseRecord(CLUSTER_RECORD, 'cluster', raw);
  return r.ok ? r.value : null;
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
  }

  private apply(cluster: ClusterRecord | null): void {
    const before = JSON.stringify(this.current);
    this.current = cluster;
    try {
      writeStateFile(this.cacheFile, JSON.stringify(cluster));
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

  /** Follows the cluster record; a watch that ends is opened again, the last known membership staying in force meanwhile. */
  private async watchLoop(): Promise<void> {
    let sawEntry = false;
    await followRecords(
      this.ctx.nc,
      CLUSTER_RECORD,
      (_id, rec) => {
        sawEntry = true;
        this.apply(rec);
      },
      {
        stopped: () => this.stopped,
        // no record at all once the watch has replayed everything: there is no cluster
        onCaughtUp: () => {
          if (!sawEntry) this.apply(null);
        },
        // a mangled record changes nothing: the last known membership stays in force
        onMalformed: (_id, why) => {
          sawEntry = true;
          this.logger.warn(`${why}: ignored`);
        },
        onError: (err) => {
          if (!this.stopped) this.logger.warn(`watching the cluster record: ${err.message}; retrying`);
        },
      },
    );
  }
}
