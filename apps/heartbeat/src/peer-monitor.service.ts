import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { join } from 'node:path';
import type { RemoteInfo } from 'node:dgram';
import type { Subscription } from 'nats';
import { Events, HEARTBEAT_WILDCARD, heartbeatSender, heartbeatSubject, type ClusterMember, type ClusterRecord } from '@tandem/contracts';
import { LIVENESS_CHANNELS, PeerLiveness, type LivenessChannel, type PeerState, type PeerTransition, type PeerView } from '@tandem/domain';
import { EventPublisher, OrderedEvents } from '@tandem/messaging';
import { ReadinessService, SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { Metrics, MissCounter } from '@tandem/telemetry';
import { ClusterMembershipService } from './cluster-membership.service';
import { decodePacket, encodePacket, heartbeatKey, type RejectReason } from '@tandem/contracts';
import { HEARTBEAT_CONFIG, type HeartbeatConfig } from './heartbeat.config';
import { nextIncarnation } from './incarnation';
import { UdpChannel } from './udp-channel';

/** Why a heartbeat was not counted. */
export type Rejection = RejectReason | 'unknown-sender' | 'replayed';
const REJECTIONS: readonly Rejection[] = ['malformed', 'wrong-version', 'wrong-cluster', 'bad-mac', 'unknown-sender', 'replayed'];

interface ChannelCounters {
  accepted: number;
  rejected: Record<Rejection, number>;
}

export interface PeerReport extends PeerView {
  adminState: ClusterMember['adminState'] | null;
  heartbeatAddress: string | null;
  /**
   * How long ago this node sent the newest heartbeat that the peer says it heard (the peer's
   * echo), or null. The peer cannot declare this node down before that send + its timeout:
   * a node that lost the witness keeps its pools only while a peer keeps confirming it.
   */
  confirmedSentMsAgo: number | null;
}

export interface MonitorView {
  node: string;
  incarnation: number;
  timings: { intervalMs: number; timeoutMs: number };
  cluster: { id: string; member: boolean } | null;
  channels: {
    udp: ChannelCounters & { bound: string | null; port: number; error: string | null; sent: number; sendErrors: number; lastSendError: string | null };
    nats: ChannelCounters & { subject: string; sent: number; connected: boolean };
  };
  peers: PeerReport[];
}

const monotonic = () => performance.now();

/**
 * Failure detection of the cluster's other nodes. Every interval, one signed heartbeat goes to
 * every peer over UDP on the heartbeat network and over the NATS cluster; every heartbeat heard
 * is authenticated and checked for replay before it counts. The pure rule (PeerLiveness) decides
 * up / suspect / down; each change is published once as tandem.evt.node.<peer>.<state>.
 */
@Injectable()
export class PeerMonitorService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('peer-monitor');
  private readonly liveness: PeerLiveness;
  private readonly key: Buffer;
  private readonly udp: UdpChannel;
  private readonly events: OrderedEvents;
  private readonly counters: Record<LivenessChannel, ChannelCounters>;
  private readonly listeners: Array<(t: PeerTransition) => void> = [];
  private incarnation = 0;
  private seq = 0;
  /** seq → monotonic send time of our recent heartbeats (the echo names a seq). */
  private readonly sentAt = new Map<number, number>();
  /** peer → the newest heartbeat accepted from it (echoed back to it). */
  private readonly newestHeard = new Map<string, { incarnation: number; seq: number }>();
  /** peer → send time of our newest heartbeat it confirmed hearing. */
  private readonly confirmedAt = new Map<string, number>();
  private natsSent = 0;
  private self: ClusterMember | null = null;
  private cluster: ClusterRecord | null = null;
  private members = new Map<string, ClusterMember>();
  private sub?: Subscription;
  private sendTimer?: NodeJS.Timeout;
  private tickTimer?: NodeJS.Timeout;
  private bindTimer?: NodeJS.Timeout;
  private lastTick = 0;
  private readonly tickMs: number;
  private readonly misses: MissCounter;
  private stopped = false;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    @Inject(HEARTBEAT_CONFIG) private readonly cfg: HeartbeatConfig,
    private readonly membership: ClusterMembershipService,
    private readonly readiness: ReadinessService,
    publisher: EventPublisher,
  ) {
    this.liveness = new PeerLiveness({ intervalMs: cfg.intervalMs, timeoutMs: cfg.timeoutMs });
    this.key = heartbeatKey(cfg.clusterSecret);
    this.udp = new UdpChannel(cfg.udpPort, (msg, from) => this.receive('udp', msg, from));
    this.events = new OrderedEvents(ctx.nc, publisher, this.logger);
    const zero = (): ChannelCounters => ({ accepted: 0, rejected: Object.fromEntries(REJECTIONS.map((r) => [r, 0])) as Record<Rejection, number> });
    this.counters = { udp: zero(), nats: zero() };
    // evaluate often enough that "down" is reported within a tick of the timeout
    this.tickMs = Math.max(20, Math.min(100, Math.floor(cfg.intervalMs / 5)));
    this.misses = new MissCounter(cfg.intervalMs);
    [Metrics.heartbeatRtt, Metrics.heartbeatMisses, Metrics.peerTransitions].forEach((make) => make());
  }

  /** Called on every change of a peer's state (after it is queued for publishing). */
  onTransition(listener: (t: PeerTransition) => void): void {
    this.listeners.push(listener);
  }

  onModuleInit(): void {
    const inc = nextIncarnation(join(this.ctx.config.stateDir, 'heartbeat', 'incarnation'));
    this.incarnation = inc.incarnation;
    if (!inc.persisted) this.logger.warn(`incarnation ${inc.incarnation} could not be persisted (${inc.error}): a wall clock set back before the next start would make peers refuse it`);

    this.sub = this.ctx.nc.subscribe(HEARTBEAT_WILDCARD, {
      callback: (err, msg) => {
        if (err) return;
        const sender = heartbeatSender(msg.subject);
        if (sender === this.ctx.config.nodeId) return; // our own
        this.receive('nats', msg.data, null, sender);
      },
    });
    this.membership.onChange((c) => this.applyCluster(c));
    this.readiness.register('heartbeat', () => {
      if (!this.self?.heartbeatAddress) return true; // not a member: idle
      return this.udp.boundAddress ? true : (this.udp.error ?? `udp: not bound on ${this.self.heartbeatAddress}:${this.cfg.udpPort}`);
    });

    this.lastTick = monotonic();
    this.sendTimer = setInterval(() => this.sendBeat(), this.cfg.intervalMs);
    this.tickTimer = setInterval(() => this.tick(), this.tickMs);
    this.bindTimer = setInterval(() => void this.udp.ensureBound(), 2_000);
    this.logger.log(
      `heartbeats every ${this.cfg.intervalMs} ms, peer lost after ${this.cfg.timeoutMs} ms of silence on every channel (udp port ${this.cfg.udpPort}, nats ${heartbeatSubject(this.ctx.config.nodeId)}), incarnation ${this.incarnation}`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const t of [this.sendTimer, this.tickTimer, this.bindTimer]) if (t) clearInterval(t);
    this.sub?.unsubscribe();
    this.udp.close();
    await Promise.race([this.events.drain(), new Promise((r) => setTimeout(r, 2_000))]);
  }

  private applyCluster(cluster: ClusterRecord | null): void {
    if (this.stopped) return;
    this.cluster = cluster;
    const me = this.ctx.config.nodeId;
    this.members = new Map((cluster?.nodes ?? []).map((n) => [n.id, n]));
    this.self = this.members.get(me) ?? null;
    // a node outside the cluster watches nobody and sends nothing
    const peers = this.self ? [...this.members.keys()].filter((id) => id !== me) : [];
    this.liveness.setPeers(peers, monotonic());
    const want = this.self?.heartbeatAddress ?? null;
    if (want !== this.udp.wantedAddress) {
      void this.udp.bindTo(want).then(() => {
        if (want === null) this.logger.log('udp heartbeat socket closed (not a cluster member, or no heartbeat address)');
        else if (this.udp.boundAddress === want) this.logger.log(`udp heartbeats on ${want}:${this.cfg.udpPort}`);
        else this.logger.warn(`udp heartbeats: ${this.udp.error}; retrying every 2 s`);
      });
    }
  }

  /**
   * One heartbeat to every peer, or — `replyTo` — a reply to one peer's heartbeat, sent at once:
   * its echo tells that peer, within a round trip, that this node still hears it (a node that
   * lost the witness keeps its pools only while a peer confirms it recently enough).
   */
  private sendBeat(replyTo?: string): void {
    if (this.stopped || !this.self || !this.cluster) return;
    const peers = [...this.members.values()].filter((m) => m.id !== this.self!.id && (replyTo === undefined || m.id === replyTo));
    if (peers.length === 0) return;
    const now = monotonic();
    const seq = ++this.seq;
    this.sentAt.set(seq, now);
    this.sentAt.delete(seq - 256);
    const echo = [...this.newestHeard].filter(([peer]) => this.members.has(peer)).map(([peer, h]) => ({ peer, ...h }));
    const packet = encodePacket({ clusterId: this.ctx.config.clusterId, from: this.self.id, incarnation: this.incarnation, seq, sentMs: now, echo, reply: replyTo !== undefined }, this.key);
    this.udp.send(
      packet,
      peers.map((p) => p.heartbeatAddress).filter((a): a is string => a !== null),
    );
    if (!this.ctx.nc.isClosed()) {
      try {
        this.ctx.nc.publish(heartbeatSubject(this.self.id), packet);
        this.natsSent++;
      } catch {
        // reconnecting: the NATS channel is silent meanwhile, as it should look
      }
    }
  }

  private reject(channel: LivenessChannel, reason: Rejection, detail: string): void {
    this.counters[channel].rejected[reason]++;
    this.logger.debug(`${channel} heartbeat ignored (${reason}): ${detail}`);
  }

  /** One heartbeat in, from either channel. */
  receive(channel: LivenessChannel, data: Uint8Array, from: RemoteInfo | null, subjectSender: string | null = null): void {
    const now = monotonic();
    const where = from ? `${from.address}:${from.port}` : `subject of ${subjectSender ?? '?'}`;
    const d = decodePacket(data, this.key, this.ctx.config.clusterId);
    if (!d.ok) return this.reject(channel, d.reason, `from ${where}`);
    const p = d.packet;
    if (p.from === this.ctx.config.nodeId) return this.reject(channel, 'unknown-sender', `claims to be this node, from ${where}`);
    if (channel === 'nats' && subjectSender !== p.from) return this.reject(channel, 'unknown-sender', `${p.from} on the subject of ${subjectSender ?? '?'}`);
    const r = this.liveness.heard(p.from, channel, { incarnation: p.incarnation, seq: p.seq }, now);
    if (r === 'accepted') {
      this.counters[channel].accepted++;
      const prev = this.newestHeard.get(p.from);
      const newest = !prev || p.incarnation > prev.incarnation || (p.incarnation === prev.incarnation && p.seq > prev.seq);
      if (newest) this.newestHeard.set(p.from, { incarnation: p.incarnation, seq: p.seq });
      const mine = p.echo.find((e) => e.peer === this.ctx.config.nodeId && e.incarnation === this.incarnation);
      const sent = mine ? this.sentAt.get(mine.seq) : undefined;
      if (sent !== undefined && sent > (this.confirmedAt.get(p.from) ?? -Infinity)) this.confirmedAt.set(p.from, sent);
      // a reply is sent at once: its echo of our heartbeat measures the round trip on this channel
      if (p.reply && sent !== undefined) Metrics.heartbeatRtt().observe({ peer: p.from, channel }, (now - sent) / 1000);
      // answer a heartbeat (the first copy of it, from whichever channel brought it first)
      if (newest && !p.reply) this.sendBeat(p.from);
    } else if (r === 'replayed') this.reject(channel, 'replayed', `${p.from} incarnation ${p.incarnation} seq ${p.seq} from ${where}`);
    else this.reject(channel, 'unknown-sender', `${p.from} is not a peer in the cluster, from ${where}`);
  }

  private tick(): void {
    const now = monotonic();
    const gap = now - this.lastTick;
    this.lastTick = now;
    if (gap > Math.max(5 * this.tickMs, this.cfg.intervalMs)) {
      // this process was stalled: heartbeats may be waiting unread in the sockets; read them first
      this.logger.warn(`event loop stalled for ${Math.round(gap)} ms: evaluating peers on the next tick`);
      return;
    }
    // after the poll phase, so heartbeats already received are counted before anyone is judged
    setImmediate(() => this.evaluate());
  }

  private evaluate(): void {
    if (this.stopped) return;
    const now = monotonic();
    for (const t of this.liveness.evaluate(now)) this.report(t);
    for (const v of this.liveness.view(now))
      for (const channel of LIVENESS_CHANNELS) {
        const missed = this.misses.observe(`${v.peer} ${channel}`, v.channels[channel]);
        if (missed > 0) Metrics.heartbeatMisses().inc({ peer: v.peer, channel }, missed);
      }
  }

  private report(t: PeerTransition): void {
    const ages = `udp ${t.channels.udp === null ? 'never' : `${Math.round(t.channels.udp)} ms ago`}, nats ${t.channels.nats === null ? 'never' : `${Math.round(t.channels.nats)} ms ago`}`;
    const line = `peer ${t.peer}: ${t.from} → ${t.to} (last heard ${ages})`;
    Metrics.peerTransitions().inc({ peer: t.peer, state: t.to });
    if (t.to === 'up') this.logger.log(line);
    else this.logger.warn(line);
    const def = t.to === 'up' ? Events.nodeUp : t.to === 'suspect' ? Events.nodeSuspect : t.to === 'down' ? Events.nodeDown : null;
    if (def) {
      const round = (v: number | null) => (v === null ? null : Math.round(v));
      this.events.publish(def, t.peer, { observer: this.ctx.config.nodeId, peer: t.peer, previous: t.from, channels: { udp: round(t.channels.udp), nats: round(t.channels.nats) } });
    }
    for (const l of this.listeners) l(t);
  }

  state(peer: string): PeerState {
    return this.liveness.view(monotonic()).find((v) => v.peer === peer)?.state ?? 'unknown';
  }

  view(): MonitorView {
    const now = monotonic();
    const round = (v: number | null) => (v === null ? null : Math.round(v));
    return {
      node: this.ctx.config.nodeId,
      incarnation: this.incarnation,
      timings: { intervalMs: this.cfg.intervalMs, timeoutMs: this.cfg.timeoutMs },
      cluster: this.cluster ? { id: this.cluster.id, member: this.self !== null } : null,
      channels: {
        udp: {
          bound: this.udp.boundAddress,
          port: this.cfg.udpPort,
          error: this.udp.error,
          sent: this.udp.sent,
          sendErrors: this.udp.sendErrors,
          lastSendError: this.udp.lastSendError,
          ...structuredClone(this.counters.udp),
        },
        nats: { subject: heartbeatSubject(this.ctx.config.nodeId), sent: this.natsSent, connected: !this.ctx.nc.isClosed(), ...structuredClone(this.counters.nats) },
      },
      peers: this.liveness.view(now).map((v) => ({
        ...v,
        stateForMs: Math.round(v.stateForMs),
        channels: { udp: round(v.channels.udp), nats: round(v.channels.nats) },
        adminState: this.members.get(v.peer)?.adminState ?? null,
        heartbeatAddress: this.members.get(v.peer)?.heartbeatAddress ?? null,
        confirmedSentMsAgo: this.confirmedAt.has(v.peer) ? Math.round(now - this.confirmedAt.get(v.peer)!) : null,
      })),
    };
  }
}
