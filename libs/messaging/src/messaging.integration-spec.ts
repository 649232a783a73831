import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from 'nats';
import { z } from 'zod';
import { ErrorCode, Events, TandemError, eventEnvelopeSchema, type KvRecordDeclaration, type StreamDeclaration } from '@tandem/contracts';
import { waitFor, withTimeout } from '@tandem/util';
import { startTelemetry } from '@tandem/telemetry';
import { connectNats } from './connection';
import { EventPublisher } from './event-publisher';
import { kvCompareAndSet, kvKeys, provisionKv, provisionStreams } from './jetstream';
import { KvRecordStore, followRecords } from './kv-records';
import { LeaderElection } from './leader-election';
import { receiveByteStream, sendByteStream } from './byte-stream';

/** Against the real NATS JetStream server on this machine (127.0.0.1:4222, or TANDEM_TEST_NATS_URL). */
const URL = process.env.TANDEM_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const run = randomBytes(4).toString('hex');

/** Assert `check` every 50 ms for `ms`: a deliberate "nothing else happens meanwhile" period. */
async function holdsFor(ms: number, check: () => boolean, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    assert.ok(check(), what);
    await sleep(50);
  }
}
let nc: NatsConnection;

before(async () => {
  startTelemetry({ serviceName: 'messaging-it' });
  nc = await connectNats({ servers: URL, name: 'messaging-it', connectTimeoutMs: 10_000 });
});

after(async () => {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(`IT_${run}`).catch(() => undefined);
  await jsm.streams.delete(`KV_it-${run}`).catch(() => undefined);
  await nc.drain();
});

test('streams are provisioned idempotently (second run changes nothing and does not fail)', async () => {
  const jsm = await nc.jetstreamManager();
  const decl: StreamDeclaration = { name: `IT_${run}`, subjects: [`it.${run}.>`], description: 'test', maxAgeSeconds: 60, replicas: 3, duplicateWindowSeconds: 10 };
  await provisionStreams(jsm, [decl]);
  await provisionStreams(jsm, [decl]);
  const info = await jsm.streams.info(decl.name);
  assert.deepEqual(info.config.subjects, [`it.${run}.>`]);
  assert.equal(info.config.num_replicas, 1, 'replicas lowered to what a single server can hold');
});

test('KV compare-and-set: a stale revision is rejected, never overwritten', async () => {
  const kvs = await provisionKv(nc, [{ bucket: `it-${run}`, description: 'test', history: 5, replicas: 3, maxAgeSeconds: 0 }]);
  const kv = kvs.get(`it-${run}`)!;
  const enc = (s: string) => new TextEncoder().encode(s);
  const first = await kvCompareAndSet(kv, 'lease', enc('a'), 0);
  assert.equal(first.ok, true);
  const dup = await kvCompareAndSet(kv, 'lease', enc('b'), 0);
  assert.deepEqual(dup, { ok: false, reason: 'conflict' });
  const rev = (first as { revision: number }).revision;
  const second = await kvCompareAndSet(kv, 'lease', enc('c'), rev);
  assert.equal(second.ok, true);
  const stale = await kvCompareAndSet(kv, 'lease', enc('d'), rev);
  assert.deepEqual(stale, { ok: false, reason: 'conflict' });
  assert.equal(new TextDecoder().decode((await kv.get('lease'))!.value), 'c');
});

/** A record kind of this test's own, in its own bucket. */
const testRecord = (bucket: string, prefix = 'pool'): KvRecordDeclaration<{ v: string }> => ({
  name: 'test record',
  bucket: { bucket, description: 'test', history: 5, replicas: 1, maxAgeSeconds: 0 },
  schema: z.object({ v: z.string() }).strict(),
  key: (id) => `${prefix}.${id}`,
  keyFilter: `${prefix}.*`,
  idOf: (key) => (key.startsWith(`${prefix}.`) ? key.slice(prefix.length + 1) : null),
});

test('KvRecordStore: compare-and-set writes of validated records; a malformed stored value is an error naming it, never a record', async () => {
  const decl = testRecord(`it-${run}`);
  const kv = (await provisionKv(nc, [decl.bucket])).get(`it-${run}`)!;
  const store = new KvRecordStore(nc, decl);
  const created = await store.put('s1', { v: 'one' }, 0);
  assert.ok(created.ok);
  assert.deepEqual(await store.put('s1', { v: 'dup' }, 0), { ok: false, reason: 'conflict' });
  assert.deepEqual((await store.get('s1'))?.value, { v: 'one' });
  await assert.rejects(
    store.put('s1', { v: 1 } as unknown as { v: string }, created.ok ? created.revision : 0),
    (e: unknown) => e instanceof TandemError && /refusing to write a malformed test record s1/.test(e.message),
  );
  assert.deepEqual((await store.get('s1'))?.value, { v: 'one' }, 'the refused write changed nothing');
  await kv.put('pool.bad', '{"v": 42}');
  await assert.rejects(store.get('bad'), (e: unknown) => e instanceof TandemError && e.code === ErrorCode.Internal && /test record pool\.bad is malformed: v:/.test(e.message));
  await kv.put('pool.notjson', 'not json');
  await assert.rejects(store.get('notjson'), /test record pool\.notjson is not JSON/);
  assert.equal(await store.get('nothing'), null);
});

test('KvRecordStore.list: every record of the kind in key order, read all at once; deleted ones and other kinds left out, a malformed one an error', async () => {
  const decl = testRecord(`it-${run}`, 'lst');
  const kv = (await provisionKv(nc, [decl.bucket])).get(`it-${run}`)!;
  const store = new KvRecordStore(nc, decl);
  const ids = Array.from({ length: 200 }, (_, i) => `p${String(i).padStart(3, '0')}`);
  for (const id of [...ids].reverse()) assert.ok((await store.put(id, { v: id }, 0)).ok);
  await kv.put('other.x', '{"v":"another kind"}');
  await kv.delete('lst.p007');
  const listed = await store.list();
  const kept = ids.filter((id) => id !== 'p007');
  assert.deepEqual(
    listed.map((r) => r.id),
    kept,
  );
  assert.deepEqual(
    listed.map((r) => r.value.v),
    kept,
  );
  assert.ok(listed.every((r) => r.revision > 0));
  await kv.put('lst.p100', '{"v":100}');
  await assert.rejects(store.list(), /test record lst\.p100 is malformed/);
});

test('followRecords: current records first, then every put and delete of the kind, malformed values skipped and reported, until stopped', async (t) => {
  const decl = testRecord(`it-${run}`, 'fol');
  const kv = (await provisionKv(nc, [decl.bucket])).get(`it-${run}`)!;
  await kv.put('fol.one', '{"v":"v1"}');
  await kv.put('other.x', '{"v":"ignored"}');
  const seen: Array<[string, { v: string } | null]> = [];
  const errors: string[] = [];
  let stopped = false;
  // a failed assertion must not leave the watch running (the file would never end)
  t.after(() => {
    stopped = true;
  });
  let caughtUp = 0;
  const done = followRecords(nc, decl, (id, value) => seen.push([id, value]), { stopped: () => stopped, retryMs: 50, onError: (e) => errors.push(e.message), onCaughtUp: () => caughtUp++ });
  await waitFor(() => seen.length >= 1 && caughtUp >= 1, { timeoutMs: 5_000, what: 'the current record and the end of the replay' });
  await kv.put('fol.two', '{"v":"v2"}');
  await kv.put('fol.bad', '{"v":2}');
  await kv.delete('fol.one');
  await waitFor(() => seen.length >= 3, { timeoutMs: 5_000, what: 'a put and a delete' });
  assert.deepEqual(seen, [
    ['one', { v: 'v1' }],
    ['two', { v: 'v2' }],
    ['one', null],
  ]);
  assert.ok(
    errors.some((e) => /test record fol\.bad is malformed/.test(e)),
    errors.join('; '),
  );
  stopped = true;
  await kv.put('fol.three', '{"v":"after stop"}'); // the watch sees one more entry, checks stopped, ends
  await withTimeout(done, 3_000, 'followRecords did not end after stopped');
  assert.equal(seen.length, 3, 'nothing delivered after stopped');
});

test('followRecords with reopenEveryMs: each new watch replays the current records, changes after a reopen still arrive', async (t) => {
  const decl = testRecord(`it-${run}`, 're');
  const kv = (await provisionKv(nc, [decl.bucket])).get(`it-${run}`)!;
  await kv.put('re.a', '{"v":"a1"}');
  const seen: Array<[string, { v: string } | null]> = [];
  let stopped = false;
  // a failed assertion must not leave the watch running (the file would never end)
  t.after(() => {
    stopped = true;
  });
  const done = followRecords(nc, decl, (id, value) => seen.push([id, value]), { stopped: () => stopped, retryMs: 50, reopenEveryMs: 300 });
  await waitFor(() => seen.filter(([k, v]) => k === 'a' && v?.v === 'a1').length >= 2, { timeoutMs: 5_000, what: 're.a replayed by each new watch' });
  await kv.put('re.b', '{"v":"b1"}');
  await waitFor(() => seen.some(([k, v]) => k === 'b' && v?.v === 'b1'), { timeoutMs: 5_000, what: 'a change after reopening' });
  stopped = true;
  await withTimeout(done, 3_000, 'followRecords did not end after stopped');
});

test('kvKeys lists the keys matching a pattern without a consumer (a deleted key may stay listed as its tombstone)', async () => {
  const kv = (await provisionKv(nc, [{ bucket: `it-${run}`, description: 'test', history: 5, replicas: 1, maxAgeSeconds: 0 }])).get(`it-${run}`)!;
  await kv.put('ks.b', 'b');
  await kv.put('ks.a', 'a');
  await kv.put('other.c', 'c');
  assert.deepEqual(await kvKeys(nc, `it-${run}`, 'ks.*'), ['ks.a', 'ks.b']);
  await kv.delete('ks.a');
  const after = await kvKeys(nc, `it-${run}`, 'ks.*');
  assert.ok(after.includes('ks.b') && !after.includes('other.c'), after.join(','));
  assert.equal((await kv.get('ks.a'))?.operation, 'DEL', 'a listed tombstone reads as deleted');
  await assert.rejects(kvKeys(nc, `no-such-${run}`, '>', 0), /not found/);
});

test('leader election: one leader; a standby takes over only after the lease went silent', async () => {
  const kv = (await provisionKv(nc, [{ bucket: `it-${run}`, description: 'test', history: 5, replicas: 1, maxAgeSeconds: 0 }])).get(`it-${run}`)!;
  const timings = { renewMs: 100, fenceMs: 400, takeoverMs: 700 };
  const a = new LeaderElection(kv, 'leader.x', 'a', timings);
  const b = new LeaderElection(kv, 'leader.x', 'b', timings);
  a.start();
  await waitFor(() => a.isLeader, { timeoutMs: 3_000, what: 'a to take the free lease' });
  b.start();
  // b stands by for as long as a renews: checked for several takeover periods
  await holdsFor(timings.takeoverMs * 1.5, () => a.isLeader && !b.isLeader, 'a stays the only leader while it renews');
  assert.equal(a.isLeader, true);
  assert.equal(b.isLeader, false);
  // a dies without handing over (timer stopped, lease not released)
  (a as unknown as { timer: NodeJS.Timeout }).timer && clearInterval((a as unknown as { timer: NodeJS.Timeout }).timer);
  const t0 = performance.now();
  await waitFor(() => b.isLeader, { timeoutMs: 5_000, intervalMs: 20, what: 'b to take over the silent lease' });
  const waited = performance.now() - t0;
  assert.ok(waited >= timings.takeoverMs - 150, `took over after ${Math.round(waited)} ms, not before the takeover time`);
  await b.stop();
});

test('events are published durably with a valid envelope and trace context', async () => {
  const pub = new EventPublisher(nc, 'it', 'messaging-it');
  const got: unknown[] = [];
  const sub = nc.subscribe(`tandem.evt.node.it-${run}.>`, { callback: (_e, m) => got.push(JSON.parse(new TextDecoder().decode(m.data))) });
  await provisionStreams(await nc.jetstreamManager(), [{ name: 'TANDEM_EVENTS', subjects: ['tandem.evt.>'], description: 'events', maxAgeSeconds: 3600, replicas: 1, duplicateWindowSeconds: 60 }]);
  const env = await pub.publish(Events.nodeServiceStarted, `it-${run}`, { service: 'heartbeat', version: '0' });
  await waitFor(() => got.length >= 1, { timeoutMs: 3_000, what: 'the event on its subject' });
  sub.unsubscribe();
  assert.equal(got.length, 1);
  const parsed = eventEnvelopeSchema.parse(got[0]);
  assert.equal(parsed.id, env.id);
  assert.equal(parsed.schema, 'tandem.node.service-started/1');
  assert.throws(() => pub.build(Events.poolExported, 'tank', { node: 'a' } as never), 'a payload of the wrong shape never leaves');
});

test('byte streams: bytes arrive complete and in order, with backpressure, and an abort is seen', async () => {
  const payload = randomBytes(3 * 1024 * 1024 + 123);
  const sink = new PassThrough({ highWaterMark: 64 * 1024 });
  const chunks: Buffer[] = [];
  // a slow reader: the sender must wait for it
  const reader = (async () => {
    for await (const c of sink) {
      chunks.push(c as Buffer);
      await sleep(1);
    }
  })();
  const subject = `itbs.${run}.stream.${randomBytes(8).toString('hex')}`;
  const rx = receiveByteStream(nc, subject, sink, { finish: async () => 'done', abort: () => undefined });
  const res = await sendByteStream(nc, subject, Readable.from([payload.subarray(0, 1000), payload.subarray(1000)]));
  assert.equal(await rx.done, payload.length);
  await reader;
  assert.equal(res.bytes, payload.length);
  assert.equal(res.result, 'done');
  assert.ok(Buffer.concat(chunks).equals(payload), 'same bytes, same order');

  let aborted = '';
  const subject2 = `itbs.${run}.stream.${randomBytes(8).toString('hex')}`;
  const rx2 = receiveByteStream(nc, subject2, new PassThrough(), { finish: async () => 'x', abort: (r) => (aborted = r) });
  const failing = new Readable({
    read() {
      this.destroy(new Error('disk on fire'));
    },
  });
  await assert.rejects(sendByteStream(nc, subject2, failing), /disk on fire/);
  await assert.rejects(rx2.done, /sender aborted/);
  assert.match(aborted, /disk on fire/);
});
