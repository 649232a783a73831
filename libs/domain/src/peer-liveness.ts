/**
 * Failure detection of peers over several independent heartbeat channels, decided on
 * observations of this node's monotonic clock only (a peer's clock is never compared with ours).
 *
 * Every heartbeat carries the sender's incarnation (grows on every start of its heartbeat
 * service) and a sequence number (grows with every heartbeat of that incarnation). Per peer and
 * channel, a heartbeat counts only if (incarnation, seq) is greater than the last one accepted on
 * that channel: a replayed or reordered old heartbeat is ignored and never makes a peer look alive.
 *
 * The rule, with T = timeoutMs and, per channel c, silence(c) = now − last heard on c (for a
 * channel never heard on: now − the moment the peer was first tracked):
 *
 *   - `unknown`  the peer was never heard on any channel and was tracked less than T ago;
 *   - `down`     every channel has been silent for at least T (silence(c) ≥ T for all c),
 *                including a peer never heard at all for T since it was tracked;
 *   - `suspect`  not down, but some channel has been silent for at least T, or every channel has
 *                been silent for at least T/2 (the peer is late everywhere);
 *   - `up`       every channel heard within T, and at least one within T/2.
 *
 * So a peer is declared down exactly T after the last heartbeat heard on any channel, and a
 * single channel that fails (a cut heartbeat link, a NATS route down) makes it suspect, never
 * down. `evaluate(now)` reports each change of state once.
 */

export const LIVENESS_CHANNELS = ['udp', 'nats'] as const;
export type LivenessChannel = (typeof LIVENESS_CHANNELS)[number];

export type PeerState = 'unknown' | 'up' | 'suspect' | 'down';

export interface LivenessTimings {
  /** How often each node sends a heartbeat on every channel. */
  intervalMs: number;
  /** Silence after which a channel counts as lost (all channels lost: the peer is down). */
  timeoutMs: number;
}

/** Timings that would declare a peer lost after missing fewer than two heartbeats are refused. */
export function validateLivenessTimings(t: LivenessTimings): void {
  if (!(Number.isFinite(t.intervalMs) && t.intervalMs > 0)) throw new Error('heartbeat timings: the interval must be a positive number of milliseconds');
  if (!(t.timeoutMs > 2 * t.intervalMs)) {
    throw new Error(`heartbeat timings: the timeout (${t.timeoutMs} ms) must exceed twice the interval (${t.intervalMs} ms)`);
  }
}

/** Who sent a heartbeat, in which life, and its place in that life. */
export interface HeartbeatStamp {
  incarnation: number;
  seq: number;
}

/** What became of one heartbeat. */
export type HeardResult = 'accepted' | 'replayed' | 'unknown-peer';

/** Per channel: milliseconds since last heard, or null when never heard. */
export type ChannelAges = Record<LivenessChannel, number | null>;

export interface PeerView {
  peer: string;
  state: PeerState;
  /** Milliseconds since the peer entered `state` (as last reported by evaluate). */
  stateForMs: number;
  channels: ChannelAges;
}

export interface PeerTransition {
  peer: string;
  from: PeerState;
  to: PeerState;
  /** The monotonic time of the evaluation that saw the change. */
  at: number;
  channels: ChannelAges;
}

interface PeerRecord {
  /** Monotonic time the peer was first tracked. */
  since: number;
  lastHeard: Map<LivenessChannel, number>;
  reported: PeerState;
  reportedAt: number;
}

function newer(a: HeartbeatStamp, b: HeartbeatStamp | undefined): boolean {
  if (b === undefined) return true;
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.seq > b.seq);
}

export class PeerLiveness {
  private readonly peersById = new Map<string, PeerRecord>();
  /** Highest stamp accepted per peer and channel; kept when a peer leaves, so it cannot be replayed back. */
  private readonly highWater = new Map<string, HeartbeatStamp>();

  constructor(
    readonly timings: LivenessTimings,
    readonly channels: readonly LivenessChannel[] = LIVENESS_CHANNELS,
  ) {
    validateLivenessTimings(timings);
    if (channels.length === 0) throw new Error('peer liveness needs at least one channel');
  }

  /** The peers to watch: new ones start `unknown` at `now`, peers no longer listed are dropped. */
  setPeers(peers: Iterable<string>, now: number): void {
    const wanted = new Set(peers);
    for (const id of [...this.peersById.keys()]) if (!wanted.has(id)) this.peersById.delete(id);
    for (const id of wanted) {
      if (!this.peersById.has(id)) this.peersById.set(id, { since: now, lastHeard: new Map(), reported: 'unknown', reportedAt: now });
    }
  }

  peers(): string[] {
    return [...this.peersById.keys()].sort();
  }

  has(peer: string): boolean {
    return this.peersById.has(peer);
  }

  /** A heartbeat from `peer` arrived on `channel` at `now`. */
  heard(peer: string, channel: LivenessChannel, stamp: HeartbeatStamp, now: number): HeardResult {
    const p = this.peersById.get(peer);
    if (!p || !this.channels.includes(channel)) return 'unknown-peer';
    if (!Number.isSafeInteger(stamp.incarnation) || !Number.isSafeInteger(stamp.seq) || stamp.incarnation < 0 || stamp.seq < 0) return 'replayed';
    const key = `${peer}\u0000${channel}`;
    if (!newer(stamp, this.highWater.get(key))) return 'replayed';
    this.highWater.set(key, { incarnation: stamp.incarnation, seq: stamp.seq });
    const prev = p.lastHeard.get(channel);
    p.lastHeard.set(channel, prev === undefined ? now : Math.max(prev, now));
    return 'accepted';
  }

  /** The state of `peer` at `now` by the rule above (`unknown` for a peer not tracked). */
  state(peer: string, now: number): PeerState {
    const p = this.peersById.get(peer);
    if (!p) return 'unknown';
    const T = this.timings.timeoutMs;
    if (p.lastHeard.size === 0) return now - p.since >= T ? 'down' : 'unknown';
    const silences = this.channels.map((c) => now - (p.lastHeard.get(c) ?? p.since));
    if (silences.every((s) => s >= T)) return 'down';
    if (silences.some((s) => s >= T)) return 'suspect';
    if (silences.every((s) => s >= T / 2)) return 'suspect';
    return 'up';
  }

  ages(peer: string, now: number): ChannelAges {
    const p = this.peersById.get(peer);
    const out = {} as ChannelAges;
    for (const c of LIVENESS_CHANNELS) {
      const at = p?.lastHeard.get(c);
      out[c] = at === undefined ? null : Math.max(0, now - at);
    }
    return out;
  }

  /** Every change of state since the last call, each reported once. */
  evaluate(now: number): PeerTransition[] {
    const out: PeerTransition[] = [];
    for (const peer of this.peers()) {
      const p = this.peersById.get(peer)!;
      const s = this.state(peer, now);
      if (s !== p.reported) {
        out.push({ peer, from: p.reported, to: s, at: now, channels: this.ages(peer, now) });
        p.reported = s;
        p.reportedAt = now;
      }
    }
    return out;
  }

  /** The last reported state of every peer, with its channel ages at `now`. */
  view(now: number): PeerView[] {
    return this.peers().map((peer) => {
      const p = this.peersById.get(peer)!;
      return { peer, state: p.reported, stateForMs: Math.max(0, now - p.reportedAt), channels: this.ages(peer, now) };
    });
  }
}
