import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBaseConfig } from '@tandem/config';
import { FAILOVER_TIMINGS as T, type HeartbeatView, type PoolSummary } from '@tandem/contracts';
import { confirmationWindowMs } from '@tandem/domain';
import { HeldPools } from './held-pools.service';
import { CONFIRM_AHEAD_MS, SelfFenceService } from './self-fence.service';

/*
 * The self-fence on its seams: a lease whose age the test sets, the pools this node holds (the
 * real HeldPools, on a temporary state directory), and fakes of the OS side that record what was
 * done to them, in order. No NATS, no ZFS: the rules are libs/domain's, the order is this file's.
 */
const VIP = { interface: 'cli0', address: '10.77.3.50', prefix: 24 };

function setup(opts: { leaseAgeMs: number; confirmedSentMsAgo?: number | null; heartbeatAnswers?: boolean | 'never'; exportFails?: boolean; hardFenceWorks?: boolean }) {
  const config = readBaseConfig({ TANDEM_NODE_ID: 'node-a', TANDEM_NATS_URL: 'nats://127.0.0.1:4222', TANDEM_STATE_DIR: mkdtempSync(join(tmpdir(), 'fence-')) });
  const done: string[] = [];
  const imported: PoolSummary[] = [{ name: 'tank', guid: '1', health: 'ONLINE', sizeBytes: 1, allocatedBytes: 0, freeBytes: 1 }];
  const zfs = { listPools: async () => imported, findPool: async (n: string) => imported.find((p) => p.name === n) };
  // the NATS connection is only used to follow the pool records, which this test does not start
  const held = new HeldPools({ config, nc: undefined as never }, zfs);
  let age = opts.leaseAgeMs;
  const lease = { armed: true, sinceLastAckedRenewalSentMs: () => age };
  const view = { timings: { intervalMs: 500, timeoutMs: 3_000 }, peers: [{ peer: 'node-b', confirmedSentMsAgo: opts.confirmedSentMsAgo ?? null }] } as Pick<HeartbeatView, 'timings' | 'peers'>;
  let asked = 0;
  const heartbeat = {
    view: async () => {
      asked++;
      if (opts.heartbeatAnswers === 'never') return new Promise<HeartbeatView>(() => undefined);
      if (opts.heartbeatAnswers === false) throw new Error('no answer');
      return view as HeartbeatView;
    },
  };
  const events: Array<{ pool: string; data: unknown }> = [];
  const fence = new SelfFenceService(
    { config },
    lease,
    held,
    { fence: async (why: string) => (done.push(`hard-fence: ${why}`), opts.hardFenceWorks ?? true) },
    { remove: async (r: { address: string }) => (done.push(`ip.remove ${r.address}`), { changed: true }) },
    { stopPool: async (p: string) => void done.push(`share.stop ${p}`) },
    {
      fenceExport: async (p: string) => {
        done.push(`export ${p}`);
        if (opts.exportFails) throw new Error('export hangs');
      },
    },
    heartbeat,
    { publish: (_def: unknown, pool: string, data: unknown) => void events.push({ pool, data }) },
  );
  return { fence, held, done, events, setAge: (ms: number) => void (age = ms), asked: () => asked };
}

/** The looks before the fence is due: the lease this stale asks the peers ahead; then it is `ms` stale. */
async function aheadThen(s: ReturnType<typeof setup>, ms: number): Promise<void> {
  s.setAge(T.fenceAfterMs - CONFIRM_AHEAD_MS / 2);
  assert.equal(await s.fence.tick(), 'keep');
  await new Promise((r) => setImmediate(r)); // the answer arrives
  s.setAge(ms);
}

async function holding(s: ReturnType<typeof setup>): Promise<void> {
  await s.held.forgetWhatIsNotImported();
  s.held.imported('tank', 3);
  s.held.ipAdded('tank', 3, VIP);
}

test('a lost lease, no peer confirming: IPs down, then shares, then the forced export; the pool is let go and the fence announced', async () => {
  const s = setup({ leaseAgeMs: T.fenceAfterMs + 10 });
  await holding(s);
  await aheadThen(s, T.fenceAfterMs + 10);
  assert.equal(await s.fence.tick(), 'fenced');
  assert.deepEqual(s.done, ['ip.remove 10.77.3.50', 'share.stop tank', 'export tank']);
  assert.deepEqual(s.held.names(), [], 'nothing of it left to fence');
  assert.deepEqual(s.events, [{ pool: 'tank', data: { node: 'node-a', epoch: 3, released: 'exported', error: null } }]);
});

test('an export that does not finish in time is followed by the harder fence', async () => {
  const s = setup({ leaseAgeMs: 5_000, exportFails: true });
  await holding(s);
  assert.equal(await s.fence.tick(), 'fenced');
  assert.deepEqual(s.done.slice(-2), ['export tank', 'hard-fence: a pool could not be released in time']);
  assert.deepEqual(
    s.events.map((e) => (e.data as { released: string }).released),
    ['hard-fence'],
  );
  const failed = setup({ leaseAgeMs: 5_000, exportFails: true, hardFenceWorks: false });
  await holding(failed);
  await failed.fence.tick();
  assert.deepEqual(
    failed.events.map((e) => e.data as { released: string; error: string }).map((d) => [d.released, d.error]),
    [['failed', 'export hangs']],
  );
});

test('a fresh lease keeps the pools and asks nothing; the peers are asked ahead of the fence, and a renewal acknowledged meanwhile keeps the pools', async () => {
  const fresh = setup({ leaseAgeMs: T.fenceAfterMs - CONFIRM_AHEAD_MS - 1 });
  await holding(fresh);
  assert.equal(await fresh.fence.tick(), 'keep');
  assert.equal(fresh.asked(), 0, 'nobody is asked while the lease is fresh');
  const late = setup({ leaseAgeMs: 0 });
  await holding(late);
  await aheadThen(late, 0); // the renewer's next renewal was acknowledged
  assert.equal(late.asked(), 1);
  assert.equal(await late.fence.tick(), 'keep');
  assert.deepEqual(late.done, []);
  assert.deepEqual(late.held.names(), ['tank']);
});

test('what came in while the process was held up is read before the decision: an acknowledged renewal keeps the pools', async () => {
  const s = setup({ leaseAgeMs: 0 });
  await holding(s);
  await aheadThen(s, T.fenceAfterMs + 250); // the look comes late: the renewal's acknowledgement is waiting to be read
  setImmediate(() => s.setAge(20)); // read in the same turn of the event loop, before the decision
  assert.equal(await s.fence.tick(), 'kept-by-renewal');
  assert.deepEqual(s.done, [], 'nothing fenced');
});

test('the decision waits for nothing: a heartbeat service that never answers does not hold the fence up', async () => {
  const s = setup({ leaseAgeMs: 0, heartbeatAnswers: 'never', confirmedSentMsAgo: 0 });
  await holding(s);
  await aheadThen(s, T.fenceAfterMs);
  assert.equal(await s.fence.tick(), 'fenced', 'no answer at hand: no peer is known to confirm this node');
  assert.equal(s.asked(), 1, 'one ask out at a time');
});

test('a peer that confirms a recent heartbeat keeps the pools; one that confirms an old one, or no heartbeat view, does not', async () => {
  const w = confirmationWindowMs(3_000);
  const kept = setup({ leaseAgeMs: 0, confirmedSentMsAgo: w - 200 });
  await holding(kept);
  await aheadThen(kept, 5_000);
  assert.equal(await kept.fence.tick(), 'kept-by-peer');
  assert.deepEqual(kept.done, []);
  const old = setup({ leaseAgeMs: 0, confirmedSentMsAgo: w + 1 });
  await holding(old);
  await aheadThen(old, 5_000);
  assert.equal(await old.fence.tick(), 'fenced');
  const silent = setup({ leaseAgeMs: 0, confirmedSentMsAgo: 0, heartbeatAnswers: false });
  await holding(silent);
  await aheadThen(silent, 5_000);
  assert.equal(await silent.fence.tick(), 'fenced', 'without its own heartbeat view a node cannot know a peer confirms it');
});

test('nothing held, nothing fenced; a pool imported again while a fence ran stays held', async () => {
  const none = setup({ leaseAgeMs: 60_000 });
  await none.held.forgetWhatIsNotImported();
  assert.equal(await none.fence.tick(), 'keep');
  assert.deepEqual(none.done, []);
  const s = setup({ leaseAgeMs: 60_000 });
  await holding(s);
  const started = performance.now();
  s.held.imported('tank', 4); // imported again (a newer epoch) after the fence began
  s.held.fenced('tank', started);
  assert.deepEqual(s.held.names(), ['tank']);
});
