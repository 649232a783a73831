import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { connect, StorageType, type NatsConnection } from 'nats';
import { waitFor } from '@tandem/util';
import { StreamFollower } from './stream-follower';

/**
 * A real three-server NATS cluster on this machine's loopback: the server holding a follower's
 * consumer is killed (as a powered-off node's), and the follower goes on from the next message on
 * another server, none lost, none twice.
 */
const base = 24_000 + Math.floor(Math.random() * 2_000) * 3;
const names = ['s1', 's2', 's3'];
const clientPort = (i: number) => base + i;
const routePort = (i: number) => base + 10_000 + i;
const dir = mkdtempSync(join(tmpdir(), 'tandem-follower-'));
const servers = new Map<string, ResultPromise>();
let nc: NatsConnection;

function start(i: number): void {
  const name = names[i];
  const conf = join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${clientPort(i)}`,
      `jetstream { store_dir: "${join(dir, name)}", max_memory_store: 64MB, max_file_store: 256MB }`,
      `cluster { name: it, listen: 127.0.0.1:${routePort(i)}, no_advertise: true, routes: [${names.flatMap((_, j) => (j === i ? [] : [`nats://127.0.0.1:${routePort(j)}`])).join(', ')}] }`,
    ].join('\n'),
  );
  const p = execa('nats-server', ['-c', conf], { reject: false, stdio: 'ignore' });
  servers.set(name, p);
}

before(async () => {
  names.forEach((_, i) => start(i));
  nc = await waitFor(() => connect({ servers: names.map((_, i) => `nats://127.0.0.1:${clientPort(i)}`), maxReconnectAttempts: -1, reconnectTimeWait: 200 }), {
    timeoutMs: 20_000,
    intervalMs: 200,
    what: 'a connection to the three servers',
  });
  await waitFor(async () => (await nc.jetstreamManager()).streams.add({ name: 'FOLLOW', subjects: ['follow.>'], num_replicas: 3, storage: StorageType.File }), {
    // three servers started at once settle their routes first; on a loaded machine that takes a while
    timeoutMs: 90_000,
    intervalMs: 500,
    what: 'a replicated stream (the cluster to elect its meta leader)',
  });
});

after(async () => {
  await nc?.close().catch(() => undefined);
  for (const p of servers.values()) p.kill('SIGKILL');
  await Promise.all([...servers.values()].map((p) => p.catch(() => undefined)));
  rmSync(dir, { recursive: true, force: true });
});

/** Message n on follow.odd.n or follow.even.n. */
async function publish(n: number): Promise<void> {
  const js = nc.jetstream();
  await waitFor(() => js.publish(`follow.${n % 2 ? 'odd' : 'even'}.${n}`, new TextEncoder().encode(String(n)), { msgID: `m${n}`, timeout: 2_000 }), {
    timeoutMs: 30_000,
    intervalMs: 250,
    what: `message ${n} stored`,
  });
}

test("the stream leader's server dies while a follower reads: it goes on with the next message, none lost or twice, in order, only its subjects", async () => {
  for (let n = 1; n <= 6; n++) await publish(n);
  const lost: string[] = [];
  const recovered: number[] = [];
  // from sequence 2: message 3 is the first odd one
  const follower = await StreamFollower.open(nc, 'FOLLOW', {
    filterSubject: 'follow.odd.>',
    startSeq: 2,
    onLost: (why, next) => lost.push(`${why} @${next}`),
    onRecovered: (next) => recovered.push(next),
  });
  const got: Array<[number, string]> = [];
  const reading = (async () => {
    for await (const m of follower) got.push([m.seq, new TextDecoder().decode(m.data)]);
  })();
  await waitFor(() => got.length === 2, { timeoutMs: 10_000, intervalMs: 50, what: 'messages 3 and 5' });
  await publish(7);
  await waitFor(() => got.length === 3, { timeoutMs: 5_000, intervalMs: 20, what: 'message 7, live' });

  const jsm = await nc.jetstreamManager();
  const leader = (await jsm.streams.info('FOLLOW')).cluster?.leader;
  assert.ok(leader && servers.has(leader), `the stream leader is named (${leader})`);
  servers.get(leader)!.kill('SIGKILL');
  servers.delete(leader);

  for (let n = 8; n <= 12; n++) await publish(n);
  await waitFor(() => got.length === 5, { timeoutMs: 60_000, intervalMs: 100, what: `messages 9 and 11 after ${leader} died (got ${got.map(([q]) => q).join(',')})` });
  assert.deepEqual(
    got.map(([q, d]) => [q, Number(d)]),
    [3, 5, 7, 9, 11].map((n) => [n, n]),
  );
  assert.ok(
    lost.every((l) => l.endsWith('@8')),
    `a loss is told with where it resumes: ${lost.join('; ')}`,
  );
  assert.equal(recovered.length, lost.length, 'each loss is followed by its recovery');
  assert.equal(follower.next, 12);

  await follower.close();
  await reading;
});
