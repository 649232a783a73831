import type { KV } from 'nats';
import { LEADER_LEASE_RECORD, type LeaderLease } from '@tandem/contracts';
import { decideLease, validateTimings, type LeaseObservation, type LeaseTimings } from '@tandem/domain';
import { kvCompareAndSet } from './jetstream';
import { parseRecord } from './kv-records';

/**
 * One active instance of a service per cluster: a lease in a KV bucket, renewed with
 * compare-and-set, taken over by a standby only after it saw no renewal for takeoverMs.
 */
export class LeaderElection {
  private timer?: NodeJS.Timeout;
  private obs: LeaseObservation | null = null;
  private lastRenewOk: number | null = null;
  private leader = false;
  private busy = false;

  constructor(
    private readonly kv: KV,
    private readonly key: string,
    private readonly me: string,
    private readonly timings: LeaseTimings,
    private readonly onChange: (leader: boolean) => void = () => undefined,
  ) {
    validateTimings(timings);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.timings.renewMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.leader && this.obs) {
      // hand over at once: delete only if we still hold it
      await kvCompareAndSet(this.kv, this.key, encodeLease({ holder: null }), this.obs.revision, 0).catch(() => undefined);
    }
    this.set(false);
  }

  private set(v: boolean): void {
    if (v !== this.leader) {
      this.leader = v;
      this.onChange(v);
    }
  }

  private async observe(now: number): Promise<void> {
    const e = await this.kv.get(this.key);
    if (!e) {
      this.obs = null;
      return;
    }
    if (!this.obs || this.obs.revision !== e.revision) {
      // a malformed lease names no holder: it is taken over like one that went silent
      const r = parseRecord(LEADER_LEASE_RECORD, this.key, e.string());
      const holder = r.ok ? r.value.holder : null;
      this.obs = { holder, revision: e.revision, seenAt: now };
    }
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = performance.now();
      try {
        await this.observe(now);
      } catch {
        /* cannot read: fall through to the fence check */
      }
      const d = decideLease(this.me, this.obs, this.lastRenewOk, now, this.timings);
      if (d.action === 'step-down') {
        this.set(false);
        this.obs = null;
        this.lastRenewOk = null;
        return;
      }
      if (d.action === 'wait') {
        this.set(false);
        return;
      }
      const value = encodeLease({ holder: this.me });
      const r = await kvCompareAndSet(this.kv, this.key, value, d.revision, 0).catch(() => null);
      if (r?.ok) {
        this.lastRenewOk = performance.now();
        this.obs = { holder: this.me, revision: r.revision, seenAt: this.lastRenewOk };
        this.set(true);
      } else if (r && !r.ok) {
        this.obs = null;
        this.set(false);
      } else if (this.leader && this.lastRenewOk !== null && performance.now() - this.lastRenewOk > this.timings.fenceMs) {
        this.set(false);
      }
    } finally {
      this.busy = false;
    }
  }
}

function encodeLease(lease: LeaderLease): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(LEADER_LEASE_RECORD.schema.parse(lease)));
}
