import { DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type KV, type KvEntry, type NatsConnection, nanos } from 'nats';
import { REPLICATED_STREAMS, type KvBucketDeclaration, type StreamDeclaration } from '@tandem/contracts';

function isReplicaError(err: unknown): boolean {
  const m = String((err as Error)?.message ?? err);
  return /replicas|insufficient resources|not clustered|no suitable peers/i.test(m);
}

/**
 * Declare streams idempotently: create when missing, update when the declaration changed.
 * Replicas are lowered when the JetStream domain has fewer servers (single-server dev setups).
 */
export async function provisionStreams(jsm: JetStreamManager, streams: readonly StreamDeclaration[]): Promise<void> {
  for (const s of streams) {
    const config = {
      name: s.name,
      subjects: s.subjects,
      description: s.description,
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(s.maxAgeSeconds * 1000),
      duplicate_window: nanos(s.duplicateWindowSeconds * 1000),
    };
    for (let replicas = s.replicas; replicas >= 1; replicas--) {
      try {
        const existing = await jsm.streams.info(s.name).catch(() => null);
        if (existing) {
          await jsm.streams.update(s.name, { ...config, num_replicas: existing.config.num_replicas });
        } else {
          await jsm.streams.add({ ...config, num_replicas: replicas });
        }
        break;
      } catch (err) {
        if (replicas > 1 && isReplicaError(err)) continue;
        throw err;
      }
    }
  }
}

/** Resolves once every stream and bucket exists (declared by another service); throws naming the first missing. */
export async function awaitDeclared(nc: NatsConnection, streams: readonly StreamDeclaration[], buckets: readonly KvBucketDeclaration[]): Promise<void> {
  const jsm = await nc.jetstreamManager({ timeout: 5_000 });
  for (const name of [...streams.map((s) => s.name), ...buckets.map((b) => `KV_${b.bucket}`)]) {
    const info = await jsm.streams.info(name).catch((err: Error) => {
      throw new Error(`${name} is not there yet (${err.message})`);
    });
    if (!info) throw new Error(`${name} is not there yet`);
  }
}

/**
 * A provisioned KV bucket, bound so that every read is answered by the stream's Raft leader. A
 * replica that is still catching up (its server just restarted) would otherwise answer a direct
 * get with an old revision: a lease would look unchanged for ever, and a compare-and-set built on
 * it would fail. Leases, pool records and the cluster record are all read this way.
 */
export function bindKv(nc: NatsConnection, bucket: string, timeoutMs = 5_000): Promise<KV> {
  // binding asks nothing of the servers: without checkAPI the client would first ask for the
  // account's JetStream info, which only the meta leader answers — a node that lost its lease
  // read would then wait for a new meta leader (seconds) when the dead node was the leader
  return nc.jetstream({ timeout: timeoutMs, checkAPI: false }).views.kv(bucket, { bindOnly: true });
}

/**
 * Declare KV buckets idempotently. Replicas are lowered when the JetStream domain has fewer
 * servers (single-server dev setups) — except for a bucket placed by server tags (the witness's):
 * without such a server it cannot exist, and that error is thrown.
 */
export async function provisionKv(nc: NatsConnection, buckets: readonly KvBucketDeclaration[], timeoutMs = 5_000): Promise<Map<string, KV>> {
  const js = nc.jetstream({ timeout: timeoutMs });
  const out = new Map<string, KV>();
  for (const b of buckets) {
    const lowest = b.placementTags?.length ? b.replicas : 1;
    for (let replicas = b.replicas; replicas >= lowest; replicas--) {
      try {
        const kv = await js.views.kv(b.bucket, {
          description: b.description,
          history: b.history,
          replicas,
          ttl: b.maxAgeSeconds * 1000,
          storage: b.memory ? StorageType.Memory : StorageType.File,
          ...(b.placementTags?.length ? { placement: { cluster: '', tags: b.placementTags } } : {}),
        });
        out.set(b.bucket, kv);
        break;
      } catch (err) {
        if (replicas > lowest && isReplicaError(err)) continue;
        throw err;
      }
    }
  }
  return out;
}

export type CasResult = { ok: true; revision: number } | { ok: false; reason: 'conflict' };

/**
 * Compare-and-set: write `value` only if the key is still at `revision` (0 = must not exist).
 * A stale revision is rejected by the server, never silently overwritten. While the bucket's
 * stream has no leader (one is being elected after a server died: "no responders"), or an
 * answer times out, the write is retried for up to `retryForMs`; a retry that finds our own
 * value already written (the first attempt went through, its answer was lost) succeeds.
 */
export async function kvCompareAndSet(kv: KV, key: string, value: Uint8Array, revision: number, retryForMs = 15_000): Promise<CasResult> {
  const deadline = Date.now() + retryForMs;
  let retried = false;
  for (;;) {
    try {
      const rev = revision === 0 ? await kv.create(key, value) : await kv.update(key, value, revision);
      return { ok: true, revision: rev };
    } catch (err) {
      const m = String((err as Error)?.message ?? err);
      if (/wrong last sequence|key exists|10071/i.test(m)) {
        if (retried) {
          const cur = await kv.get(key).catch(() => null);
          if (cur && Buffer.from(cur.value).equals(Buffer.from(value))) return { ok: true, revision: cur.revision };
        }
        return { ok: false, reason: 'conflict' };
      }
      const transient = /503|no responders|timeout|leader/i.test(m) || (err as { code?: string }).code === '503';
      if (!transient || Date.now() > deadline) throw err;
      retried = true;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * The keys of a KV bucket matching `filter` (a subject pattern, `*` and `>` allowed), from its
 * stream's subject index, which the stream leader answers. Unlike `kv.keys()` no consumer is
 * created: creating one timed out about one call in three while a server of the cluster was
 * lost. A deleted key may still be listed (its tombstone): read each key. Rides out a stream
 * leader election for up to `retryForMs`.
 */
export function kvKeys(nc: NatsConnection, bucket: string, filter = '>', retryForMs = 10_000): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  return ridingOutElections(async () => {
    const jsm = await nc.jetstreamManager({ checkAPI: false, timeout: 5_000 });
    const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}${filter}` });
    return Object.keys(info.state.subjects ?? {})
      .map((s) => s.slice(prefix.length))
      .sort();
  }, retryForMs);
}

/** Read a key, riding out a stream leader election ("no responders") for up to `retryForMs`. */
export function kvGet(kv: KV, key: string, retryForMs = 10_000): Promise<KvEntry | null> {
  return ridingOutElections(() => kv.get(key), retryForMs);
}

/** `read` again every 250 ms while it fails with 503, "no responders" or a timeout, for up to `retryForMs`. */
async function ridingOutElections<T>(read: () => Promise<T>, retryForMs: number): Promise<T> {
  const deadline = Date.now() + retryForMs;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      const m = String((err as Error)?.message ?? err);
      if (!/503|no responders|timeout/i.test(m) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Wait until every replicated stream is led by `server` (the steady state the active resource-manager keeps with the witness). */
export async function waitForStreamLeader(nc: NatsConnection, server: string, timeoutMs: number): Promise<void> {
  const jsm = await nc.jetstreamManager({ checkAPI: false });
  const t0 = performance.now();
  for (const s of REPLICATED_STREAMS) {
    for (;;) {
      const leader = (await jsm.streams.info(s).catch(() => null))?.cluster?.leader;
      if (leader === server) break;
      if (performance.now() - t0 > timeoutMs) throw new Error(`stream ${s} is led by ${leader ?? 'nobody'}, not ${server}, after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
