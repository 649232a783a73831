import {
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type KV,
  type KvEntry,
  type NatsConnection,
  nanos,
} from 'nats';
import type { KvBucketDeclaration, StreamDeclaration } from '@tandem/contracts';

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

export async function provisionKv(nc: NatsConnection, buckets: readonly KvBucketDeclaration[]): Promise<Map<string, KV>> {
  const js = nc.jetstream();
  const out = new Map<string, KV>();
  for (const b of buckets) {
    for (let replicas = b.replicas; replicas >= 1; replicas--) {
      try {
        const kv = await js.views.kv(b.bucket, {
          description: b.description,
          history: b.history,
          replicas,
          ttl: b.maxAgeSeconds * 1000,
        });
        out.set(b.bucket, kv);
        break;
      } catch (err) {
        if (replicas > 1 && isReplicaError(err)) continue;
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

/** Read a key, riding out a stream leader election ("no responders") for up to `retryForMs`. */
export async function kvGet(kv: KV, key: string, retryForMs = 10_000): Promise<KvEntry | null> {
  const deadline = Date.now() + retryForMs;
  for (;;) {
    try {
      return await kv.get(key);
    } catch (err) {
      const m = String((err as Error)?.message ?? err);
      if (!/503|no responders|timeout/i.test(m) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
