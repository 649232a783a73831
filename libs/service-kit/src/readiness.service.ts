import { Injectable } from '@nestjs/common';

export type ReadinessCheck = () => Promise<true | string> | true | string;

/** Named readiness checks; the service is ready when every check answers true. */
@Injectable()
export class ReadinessService {
  private readonly checks = new Map<string, ReadinessCheck>();
  private stopping = false;

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  markStopping(): void {
    this.stopping = true;
  }

  async evaluate(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const out: Record<string, string> = {};
    let ready = !this.stopping;
    if (this.stopping) out.shutdown = 'stopping';
    for (const [name, check] of this.checks) {
      try {
        const r = await Promise.race([Promise.resolve(check()), new Promise<string>((resolve) => setTimeout(() => resolve('check timed out'), 2_000))]);
        out[name] = r === true ? 'ok' : r;
        if (r !== true) ready = false;
      } catch (err) {
        out[name] = (err as Error).message;
        ready = false;
      }
    }
    return { ready, checks: out };
  }
}
