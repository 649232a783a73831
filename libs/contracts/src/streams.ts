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
  /** Only on servers carrying these tags (the witness); never provisioned elsewhere. */
  placementTags?: string[];
  /** Kept in memory (state that is renewed all the time and worthless after a restart). */
  memory?: boolean;
}

/** The server tag of the witness's NATS server (`server_tags` in its configuration). */
export const WITNESS_TAG = 'tandem-witness';

/**
 * Node ownership leases: every storage node's host-executor renews `node.<id>` several times a
 * second. One replica, on the witness alone: a renewal that succeeds proves the node reaches the
 * tie-breaker, and no Raft election among storage nodes (a dead node that led a replicated
 * stream) ever stalls a renewal. Without a witness the bucket cannot exist, and automatic
 * failover is declined.
 */
export const OWNERSHIP_BUCKET: KvBucketDeclaration = {
  bucket: 'tandem-ownership',
  description: 'Node ownership leases, renewed by each node, held by the witness (the tie-breaker)',
  history: 1,
  replicas: 1,
  maxAgeSeconds: 0,
  placementTags: [WITNESS_TAG],
  memory: true,
};

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
  description: 'Leases of the one active instance of a service per cluster (compare-and-set on revision)',
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

export const REPLICATION_BUCKET: KvBucketDeclaration = {
  bucket: 'tandem-replication',
  description: 'Replicated pools: direction, newest common snapshot per replica, lag, schedule timers (written by the active replication-scheduler)',
  history: 5,
  replicas: 3,
  maxAgeSeconds: 0,
};

/**
 * SMB share users: name, unix id and NT hash (what an SMB login is checked against — as good as the
 * password to SMB, so only the resource-manager, which writes it, and the host-executors, which
 * give it to smbd, may read this bucket).
 */
export const SHARE_USERS_BUCKET: KvBucketDeclaration = {
  bucket: 'tandem-share-users',
  description: 'SMB share users: their unix id, the same on every node, and the NT hash their logins are checked against (tandem share user)',
  history: 5,
  replicas: 3,
  maxAgeSeconds: 0,
};

/**
 * iSCSI CHAP of the pools' targets: the user and the secret in the clear (the target needs it to
 * check an initiator's answer), so only the resource-manager, which writes it and gives it to the
 * node that starts the target, may read this bucket. Not in the pool record: pool events carry that.
 */
export const ISCSI_CHAP_BUCKET: KvBucketDeclaration = {
  bucket: 'tandem-iscsi-chap',
  description: "iSCSI CHAP of the pools' targets, by pool: the user initiators log in as and its secret (tandem pool chap)",
  history: 5,
  replicas: 3,
  maxAgeSeconds: 0,
};

export const KV_BUCKETS: readonly KvBucketDeclaration[] = [LEASES_BUCKET, POOLS_BUCKET, CLUSTER_BUCKET, REPLICATION_BUCKET, SHARE_USERS_BUCKET, ISCSI_CHAP_BUCKET];

/** The streams replicated across the storage nodes and the witness (the events, and each KV bucket's stream). */
export const REPLICATED_STREAMS: readonly string[] = [EVENTS_STREAM.name, ...KV_BUCKETS.map((b) => `KV_${b.bucket}`)];

/**
 * The timings that keep the safety invariant (a pool never imported on two nodes). They are
 * tied to each other: change one only with the others, and the same on every node.
 *
 *  - a node renews its ownership lease (on the witness) every `renewMs`, without waiting for the
 *    previous renewal's acknowledgement (one that comes late still counts, from its send);
 *  - a node that has had no renewal acknowledged for `fenceAfterMs` (counted from the *send*
 *    of the last acknowledged one) and that no peer confirms hearing recently enough fences its
 *    pools; from that moment the fence takes at most `fenceBudgetMs` (the next look of the
 *    self-fence, every `fenceTickMs`, which decides at once: the renewer keeps renewing on its
 *    own and the peers' confirmation was asked ahead; IPs and shares down at once within
 *    `accessDownBoundMs`; a forced export within `exportBoundMs`; then the harder fence);
 *  - a peer takes a pool over only after it has seen the owner's lease unchanged for
 *    `takeoverAfterMs` > fenceAfterMs + fenceBudgetMs (by its own monotonic clock) AND heard
 *    nothing from the owner on any heartbeat channel for the heartbeat timeout + `downForMs`;
 *  - a node that lost the witness keeps its pools only while a peer's echo confirms one of its
 *    heartbeats sent less than timeout + downForMs − fenceBudgetMs − marginMs ago.
 */
export interface FailoverTimings {
  renewMs: number;
  renewTimeoutMs: number;
  fenceAfterMs: number;
  fenceBudgetMs: number;
  /** How often the self-fence looks at the lease. */
  fenceTickMs: number;
  /** A fencing node's floating IPs and shares, taken down at once, within this. */
  accessDownBoundMs: number;
  exportBoundMs: number;
  takeoverAfterMs: number;
  downForMs: number;
  marginMs: number;
  /** A live owner hands a pool over (its client link is down): the forced export may take this long before the node fences itself harder. */
  releaseBoundMs: number;
  /** The same for a pool the owner reports faulted or suspended (its disks do not answer: the export never finishes). */
  faultedReleaseBoundMs: number;
}
export const FAILOVER_TIMINGS: Readonly<FailoverTimings> = {
  renewMs: 150,
  // generous against a renewal's round trip (a few ms): an acknowledgement later than this is
  // logged as late (it still counts: renewals are not waited for one by one), and the self-fence's
  // question to its heartbeat service is bounded by it
  renewTimeoutMs: 250,
  // 5 renewals: a node whose renewals answer slowly under load (0.55 s seen with the machine's
  // cores and disk saturated while 20 pools were created) neither fences nor is refused pools
  fenceAfterMs: 750,
  // 100 + 300 + 600 + 50 for the harder fence = 1050 (the decision waits for no renewal nor answer)
  fenceBudgetMs: 1_100,
  fenceTickMs: 100,
  accessDownBoundMs: 300,
  exportBoundMs: 600,
  // longer than fencing takes (0.75 + 1.1 s); the heartbeat silence (timeout + downForMs = 1.9 s) is over with it
  takeoverAfterMs: 1_900,
  downForMs: 400,
  marginMs: 250,
  releaseBoundMs: 10_000,
  faultedReleaseBoundMs: 2_000,
};
