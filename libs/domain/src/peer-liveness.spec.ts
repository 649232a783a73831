import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerLiveness, validateLivenessTimings, type LivenessChannel, type PeerTransition } from './peer-liveness';

const T = { intervalMs: 500, timeoutMs: 3_000 };

/** A fake monotonic clock and a peer that sends on the channels it is told to, every interval. */
function rig(start = 10_000) {
  const lv = new PeerLiveness(T);
  let now = start;
  const seq: Record<string, number> = {};
  const transitions: PeerTransition[] = [];
  lv.setPeers(['node-b'], now);
  const beat = (channels: readonly LivenessChannel[], peer = 'node-b', incarnation = 1) => {
    seq[peer] = (seq[peer] ?? 0) + 1;
    for (const c of channels) assert.equal(lv.heard(peer, c, { incarnation, seq: seq[peer] }, now), 'accepted');
  };
  /** Advance the clock in interval steps, beating on `channels`, evaluating as the service does. */
  const run = (ms: number, channels: readonly LivenessChannel[]) => {
    for (let t = 0; t < ms; t += T.intervalMs) {
      beat(channels);
      for (let s = 0; s < T.intervalMs; s += 100) {
        now += 100;
        transitions.push(...lv.evaluate(now));
      }
    }
  };
  return {
    lv,
    beat,
    run,
    transitions,
    get now() {
      return now;
    },
    set now(v: number) {
      now = v;
      transitions.push(...lv.evaluate(now));
    },
    state: () => lv.state('node-b', now),
  };
}

test('timings: the timeout must exceed two intervals', () => {
  assert.throws(() => validateLivenessTimings({ intervalMs: 500, timeoutMs: 1_000 }), /must exceed twice the interval \(500 ms\)/);
  assert.throws(() => validateLivenessTimings({ intervalMs: 0, timeoutMs: 1_000 }), /interval/);
  assert.doesNotThrow(() => validateLivenessTimings({ intervalMs: 500, timeoutMs: 1_001 }));
  assert.throws(() => new PeerLiveness({ intervalMs: 500, timeoutMs: 900 }));
});

test('all channels alive: up, reported once', () => {
  const r = rig();
  r.run(10_000, ['udp', 'nats']);
  assert.equal(r.state(), 'up');
  assert.deepEqual(
    r.transitions.map((t) => [t.from, t.to]),
    [['unknown', 'up']],
  );
  const ages = r.lv.ages('node-b', r.now);
  assert.ok(ages.udp !== null && ages.udp <= T.intervalMs && ages.nats !== null && ages.nats <= T.intervalMs);
});

test('one channel cut: suspect after the timeout, never down while the other is heard', () => {
  const r = rig();
  r.run(2_000, ['udp', 'nats']);
  r.run(30_000, ['nats']);
  assert.equal(r.state(), 'suspect');
  assert.deepEqual(
    r.transitions.map((t) => t.to),
    ['up', 'suspect'],
  );
  const suspect = r.transitions[1];
  assert.equal(suspect.channels.udp, T.timeoutMs, 'suspect exactly when udp has been silent for the timeout');
  assert.ok(suspect.channels.nats !== null && suspect.channels.nats <= T.intervalMs);
  // the other channel cut instead: same
  const q = rig();
  q.run(2_000, ['udp', 'nats']);
  q.run(30_000, ['udp']);
  assert.equal(q.state(), 'suspect');
});

test('all channels cut: suspect at half the timeout, down after exactly the timeout', () => {
  const r = rig();
  r.run(2_000, ['udp', 'nats']);
  r.beat(['udp', 'nats']);
  const last = r.now;
  r.now = last + T.timeoutMs / 2 - 1;
  assert.equal(r.state(), 'up');
  r.now = last + T.timeoutMs / 2;
  assert.equal(r.state(), 'suspect');
  r.now = last + T.timeoutMs - 1;
  assert.equal(r.state(), 'suspect');
  r.now = last + T.timeoutMs;
  assert.equal(r.state(), 'down');
  assert.deepEqual(
    r.transitions.map((t) => t.to),
    ['up', 'suspect', 'down'],
  );
  assert.deepEqual(r.transitions[2].channels, { udp: T.timeoutMs, nats: T.timeoutMs });
  r.now = last + 60_000;
  assert.equal(r.transitions.length, 3, 'down is reported once');
});

test('the last channel heard decides: down T after the last heartbeat on any channel', () => {
  const r = rig();
  r.run(2_000, ['udp', 'nats']);
  r.beat(['udp']);
  const lastUdp = r.now;
  r.now = lastUdp + 1_000;
  r.beat(['nats']);
  const lastNats = r.now;
  r.now = lastUdp + T.timeoutMs;
  assert.equal(r.state(), 'suspect');
  r.now = lastNats + T.timeoutMs - 1;
  assert.equal(r.state(), 'suspect');
  r.now = lastNats + T.timeoutMs;
  assert.equal(r.state(), 'down');
});

test('recovery: heard again on every channel, up again', () => {
  const r = rig();
  r.run(2_000, ['udp', 'nats']);
  r.now = r.now + 10_000;
  assert.equal(r.state(), 'down');
  r.run(1_000, ['udp', 'nats']);
  assert.equal(r.state(), 'up');
  assert.deepEqual(
    r.transitions.map((t) => t.to),
    ['up', 'down', 'up'],
    'evaluated only after the long silence: straight from up to down',
  );
  // one channel back first: suspect (the other is still silent), then up
  const q = rig();
  q.run(2_000, ['udp', 'nats']);
  q.now = q.now + 10_000;
  q.run(500, ['nats']);
  assert.equal(q.state(), 'suspect');
  q.run(500, ['udp', 'nats']);
  assert.equal(q.state(), 'up');
});

test('a replayed or old heartbeat is ignored and does not revive a dead peer', () => {
  const r = rig();
  r.run(2_000, ['udp', 'nats']); // seq 1..4
  r.now = r.now + 10_000;
  assert.equal(r.state(), 'down');
  for (const seq of [1, 2, 4]) {
    assert.equal(r.lv.heard('node-b', 'udp', { incarnation: 1, seq }, r.now), 'replayed');
    assert.equal(r.lv.heard('node-b', 'nats', { incarnation: 1, seq }, r.now), 'replayed');
  }
  assert.equal(r.lv.heard('node-b', 'udp', { incarnation: 0, seq: 999 }, r.now), 'replayed', 'an older life');
  assert.equal(r.lv.heard('node-b', 'udp', { incarnation: 1, seq: -1 }, r.now), 'replayed');
  assert.equal(r.lv.heard('node-b', 'udp', { incarnation: 1, seq: 1.5 }, r.now), 'replayed');
  r.now = r.now + 100;
  assert.equal(r.state(), 'down');
  assert.equal(r.transitions.at(-1)?.to, 'down');
  // a restarted peer (new incarnation) starts its sequence over and is accepted
  assert.equal(r.lv.heard('node-b', 'udp', { incarnation: 2, seq: 1 }, r.now), 'accepted');
  assert.equal(r.lv.heard('node-b', 'nats', { incarnation: 2, seq: 1 }, r.now), 'accepted');
  r.now = r.now + 100;
  assert.equal(r.state(), 'up');
});

test('sequence numbers are tracked per channel: the same heartbeat counts once on each', () => {
  const lv = new PeerLiveness(T);
  lv.setPeers(['node-b'], 0);
  assert.equal(lv.heard('node-b', 'udp', { incarnation: 1, seq: 5 }, 10), 'accepted');
  assert.equal(lv.heard('node-b', 'nats', { incarnation: 1, seq: 5 }, 11), 'accepted');
  assert.equal(lv.heard('node-b', 'nats', { incarnation: 1, seq: 5 }, 12), 'replayed');
  assert.equal(lv.heard('node-b', 'udp', { incarnation: 1, seq: 4 }, 12), 'replayed', 'reordered: older than the last accepted');
});

test('a peer never heard from is unknown until the timeout since it was first tracked, then down', () => {
  const lv = new PeerLiveness(T);
  lv.setPeers(['node-b'], 1_000);
  assert.equal(lv.state('node-b', 1_000), 'unknown');
  assert.deepEqual(lv.evaluate(1_000 + T.timeoutMs - 1), []);
  assert.equal(lv.state('node-b', 1_000 + T.timeoutMs - 1), 'unknown');
  const tr = lv.evaluate(1_000 + T.timeoutMs);
  assert.deepEqual(
    tr.map((t) => [t.peer, t.from, t.to]),
    [['node-b', 'unknown', 'down']],
  );
  assert.deepEqual(tr[0].channels, { udp: null, nats: null });
  // heard at last: the first heartbeat on one channel makes it suspect (the other never worked)
  lv.heard('node-b', 'udp', { incarnation: 1, seq: 1 }, 5_000);
  assert.equal(lv.state('node-b', 5_000), 'suspect');
  lv.heard('node-b', 'nats', { incarnation: 1, seq: 1 }, 5_100);
  assert.equal(lv.state('node-b', 5_100), 'up');
});

test('a peer heard on both channels right after it was tracked goes straight from unknown to up', () => {
  const lv = new PeerLiveness(T);
  lv.setPeers(['node-b'], 0);
  lv.heard('node-b', 'udp', { incarnation: 7, seq: 1 }, 200);
  assert.equal(lv.state('node-b', 200), 'up', 'one channel fresh, the other not yet due: not suspect');
  lv.heard('node-b', 'nats', { incarnation: 7, seq: 1 }, 300);
  assert.deepEqual(
    lv.evaluate(400).map((t) => t.to),
    ['up'],
  );
});

test('peers come and go with the cluster record; unknown senders are refused; high-water marks stay', () => {
  const lv = new PeerLiveness(T);
  lv.setPeers(['node-b', 'node-c'], 0);
  assert.deepEqual(lv.peers(), ['node-b', 'node-c']);
  assert.equal(lv.heard('node-x', 'udp', { incarnation: 1, seq: 1 }, 1), 'unknown-peer');
  assert.equal(lv.heard('node-c', 'udp', { incarnation: 1, seq: 9 }, 1), 'accepted');
  lv.setPeers(['node-b'], 100);
  assert.equal(lv.has('node-c'), false);
  assert.equal(lv.heard('node-c', 'udp', { incarnation: 1, seq: 10 }, 101), 'unknown-peer');
  lv.setPeers(['node-b', 'node-c'], 200);
  assert.equal(lv.state('node-c', 200), 'unknown', 'back in the cluster: starts over as unknown');
  assert.equal(lv.heard('node-c', 'udp', { incarnation: 1, seq: 9 }, 201), 'replayed', 'its old heartbeats still do not count');
  assert.deepEqual(
    lv.view(300).map((v) => [v.peer, v.state]),
    [
      ['node-b', 'unknown'],
      ['node-c', 'unknown'],
    ],
  );
});

test('view reports the last evaluated state and how long it has held', () => {
  const r = rig(0);
  r.run(2_000, ['udp', 'nats']);
  const v = r.lv.view(r.now)[0];
  assert.equal(v.state, 'up');
  assert.ok(v.stateForMs > 0 && v.stateForMs <= 2_000);
});
