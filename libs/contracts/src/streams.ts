import { EVENTS_WILDCARD } from './subjects';

/** JetStream streams, consumers and KV buckets: declared once, provisioned at start-up. */
export interface StreamDeclaration {
  name: string;
  subjects: string[];
  description: string;
  maxAgeSeconds: number;
  /** Replicas wanted; capped at the number of JetStream servers present. */
  replicas: number;
  duplicateWindowSeconds: number;
}

export interface KvBucketDeclaration {
  bucket: string;
  description: string;
  history: number;
  replicas: number;
  /** Bucket-wide max age (NATS 2.9 has no per-key TTL); 0 = keep. */
  maxAgeSeconds: number;
}

export const EVENTS_STREAM: StreamDeclaration = {
  name: 'TANDEM_EVENTS',
  subjects: [EVENTS_WILDCARD],
  description: 'Every Tandem event, for integrators and replay',
  maxAgeSeconds: 30 * 24 * 3600,
  replicas: 3,
  duplicateWindowSeconds: 120,
};

export const STREAMS: readonly StreamDeclaration[] = [EVENTS_STREAM];

export const LEASES_BUCKET: KvBucketDeclaration = {
  bucket: 'tandem-leases',
  description: 'Ownership leases of HA pools with fencing epochs (compare-and-set on revision)',
  history: 5,
  replicas: 3,
  maxAgeSeconds: 0,
};

export const POOLS_BUCKET: KvBucketDeclaration = {
  bucket: 'tandem-pools',
  description: 'HA pools under cluster control: owner node, state, floating IPs, shares, fencing epoch',
  history: 10,
  replicas: 3,
  maxAgeSeconds: 0,
};

export const CLUSTER_BUCKET: KvBucketDeclaration = {
  bucket: 'tandem-cluster',
  description: 'The cluster: its members, their admin state, the heartbeat interface, maintenance mode',
  history: 10,
  replicas: 3,
  maxAgeSeconds: 0,
};

export const KV_BUCKETS: readonly KvBucketDeclaration[] = [LEASES_BUCKET, POOLS_BUCKET, CLUSTER_BUCKET];

