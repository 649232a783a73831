import type { JetStreamManager, MsgRequest, NatsConnection, StoredMsg, Subscription } from 'nats';

export interface StreamFollowerOptions {
  /** The subjects followed (wildcards allowed). */
  filterSubject: string;
  /** The first stream sequence to deliver. */
  startSeq: number;
  /** How often the stream is read when nothing wakes the follower (a lost wake-up, a replica behind): default 1 s. */
  pollMs?: number;
  /** How long one read may take before it counts as failed (default 3 s). */
  requestTimeoutMs?: number;
  /** Told once when reads start failing (the stream has no leader: its server died) and once when they work again. */
  onLost?: (why: string, nextSeq: number) => void;
  onRecovered?: (nextSeq: number) => void;
}

/**
 * Follows a stream's messages in sequence, from `startSeq` on, without a consumer: each message is
 * read by "next message at or after sequence N on these subjects" from the stream's leader, and a
 * plain subscription to the same subjects wakes the reader when a new one is published.
 *
 * Why not an ordered consumer: an ordered consumer lives on one server, and when that server dies
 * (its node powered off) nats.js only reports missed heartbeats and never makes it again; making a
 * new one can then time out for minutes (NATS 2.9 places it on the dead stream peer). A read by
 * sequence needs only a stream leader, which the stream elects again in seconds, and the sequence
 * the follower keeps makes the gap impossible: nothing lost, nothing twice, always in order.
 */
export class StreamFollower implements AsyncIterable<StoredMsg> {
  private closed = false;
  private nextSeq: number;
  private wake: (() => void) | null = null;
  /** Set when a publication arrived while the reader was busy: read again before sleeping. */
  private pending = false;
  private readonly sub: Subscription;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly opts: StreamFollowerOptions,
  ) {
    this.nextSeq = opts.startSeq;
    this.sub = nc.subscribe(opts.filterSubject, {
      callback: () => {
        this.pending = true;
        this.wake?.();
      },
    });
  }

  /** Checks the stream is there (its failure is the caller's: the stream is missing or not answering) and starts following. */
  static async open(nc: NatsConnection, stream: string, opts: StreamFollowerOptions): Promise<StreamFollower> {
    const jsm = await nc.jetstreamManager({ timeout: opts.requestTimeoutMs ?? 3_000, checkAPI: false });
    await jsm.streams.info(stream);
    return new StreamFollower(nc, jsm, stream, opts);
  }

  /** Starts following a stream the caller has just seen (with the stream manager it saw it through). */
  static follow(nc: NatsConnection, jsm: JetStreamManager, stream: string, opts: StreamFollowerOptions): StreamFollower {
    return new StreamFollower(nc, jsm, stream, opts);
  }

  /** The sequence the next message will have at the least. */
  get next(): number {
    return this.nextSeq;
  }

  private sleep(ms: number): Promise<void> {
    if (this.pending) return Promise.resolve();
    return new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      this.wake = () => {
        clearTimeout(t);
        r();
      };
    }).finally(() => (this.wake = null));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoredMsg> {
    let failing: string | null = null;
    const poll = this.opts.pollMs ?? 1_000;
    while (!this.closed && !this.nc.isClosed()) {
      this.pending = false;
      let m: StoredMsg | null = null;
      let answered = true;
      try {
        // next_by_subj (NATS 2.9+): the first message at or after seq on these subjects; nats.js's types omit it
        m = await this.jsm.streams.getMessage(this.stream, { seq: this.nextSeq, next_by_subj: this.opts.filterSubject } as unknown as MsgRequest);
      } catch (err) {
        const e = err as Error & { code?: string; api_error?: { code?: number; err_code?: number } };
        // 404: nothing at or after that sequence yet (the normal wait for the next one), an answer too
        if (e.api_error?.code !== 404 && e.code !== '404') {
          answered = false;
          if (failing === null) {
            failing = e.message;
            this.opts.onLost?.(e.message, this.nextSeq);
          }
        }
      }
      if (answered && failing !== null) {
        failing = null;
        this.opts.onRecovered?.(this.nextSeq);
      }
      if (this.closed) return;
      if (m) {
        this.nextSeq = m.seq + 1;
        yield m;
        continue;
      }
      await this.sleep(poll);
    }
  }

  /** Stops following. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.sub.unsubscribe();
  }
}
