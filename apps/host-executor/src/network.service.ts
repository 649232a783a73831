import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { isIP } from 'node:net';
import { ErrorCode, TandemError, type AddressInfo, type HostOpParsed, type HostOpResults, type LinkInfo } from '@tandem/contracts';
import { CommandFailedError, ProcessRunner, ipCmd, parseIpAddr, parseIpLink } from '@tandem/host';
import { FreshRead, KeyedMutex } from '@tandem/util';
import { EpochGuard } from './epoch-guard.service';

/** Floating IPs, links and gratuitous ARP. */
@Injectable()
export class NetworkService implements OnApplicationShutdown {
  private readonly logger = new Logger('network');
  private readonly locks = new KeyedMutex();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** ARP bursts: one right after bring-up, a second a few seconds later for caches that missed it. */
  static readonly ARP_BURSTS: Array<{ delayMs: number; count: number }> = [
    { delayMs: 0, count: 3 },
    { delayMs: 4_000, count: 2 },
  ];

  constructor(
    private readonly runner: ProcessRunner,
    private readonly epochs: EpochGuard,
  ) {}

  private async ip(argv: string[]) {
    try {
      return await this.runner.run(argv, { timeoutMs: 10_000 });
    } catch (err) {
      if (err instanceof CommandFailedError) {
        if (/Cannot find device|does not exist/i.test(err.stderr)) throw new TandemError(ErrorCode.InterfaceNotFound, `interface not found on this node`, 'interface', err.stderr.trim());
        throw new TandemError(ErrorCode.CommandFailed, `${argv.slice(0, 3).join(' ')} failed: ${err.stderr.trim()}`, undefined, err.stderr.trim());
      }
      throw err;
    }
  }

  async addresses(iface?: string): Promise<AddressInfo[]> {
    if (iface) await this.requireLink(iface);
    if (!iface) return [...(await this.allAddresses.get())];
    return parseIpAddr((await this.ip(ipCmd.addrShow(iface))).stdout);
  }

  async links(): Promise<LinkInfo[]> {
    return [...(await this.allLinks.get())];
  }

  /**
   * The node's addresses and links, each one read shared by the callers asking at once (each
   * still gets a read that began after it asked): a takeover of twenty pools brings twenty IPs up
   * side by side, and each looks at the links and the addresses first. An address changes only
   * under its own lock, so a shared read is as good as one's own for it.
   */
  private readonly allAddresses = new FreshRead(async () => parseIpAddr((await this.ip(ipCmd.addrShow())).stdout));
  private readonly allLinks = new FreshRead(async () => parseIpLink((await this.ip(ipCmd.linkShow())).stdout));

  private async requireLink(iface: string): Promise<LinkInfo> {
    const link = (await this.links()).find((l) => l.name === iface);
    if (!link) throw new TandemError(ErrorCode.InterfaceNotFound, `interface ${iface} does not exist on this node`, 'interface');
    return link;
  }

  add(req: HostOpParsed<'ip.add'>): Promise<HostOpResults['ip.add']> {
    return this.locks.run(req.address, async () => {
      if (req.pool) this.epochs.admit(req.pool, req.epoch);
      if (isIP(req.address) === 4 && req.prefix > 32) throw new TandemError(ErrorCode.InvalidArgument, `prefix: ${req.prefix} is too long for IPv4`, 'prefix');
      await this.requireLink(req.interface);
      const present = (await this.addresses()).filter((a) => a.address === req.address);
      if (present.some((a) => a.interface === req.interface && a.prefix === req.prefix)) return { changed: false, arpSent: 0 };
      if (present.length > 0) {
        const p = present[0];
        throw new TandemError(ErrorCode.AddressInUse, `address ${req.address} is already on ${p.interface}/${p.prefix} of this node`, 'address');
      }
      await this.ip(ipCmd.addrAdd(req.interface, req.address, req.prefix));
      this.logger.log(`floating IP ${req.address}/${req.prefix} up on ${req.interface}`);
      let arpSent = 0;
      if (req.arp && isIP(req.address) === 4) {
        for (const burst of NetworkService.ARP_BURSTS) {
          arpSent += burst.count;
          this.later(burst.delayMs, () => this.arp(req.interface, req.address, burst.count));
        }
      }
      return { changed: true, arpSent };
    });
  }

  remove(req: HostOpParsed<'ip.remove'>): Promise<HostOpResults['ip.remove']> {
    return this.locks.run(req.address, async () => {
      const present = (await this.addresses()).some((a) => a.address === req.address && a.interface === req.interface);
      if (!present) return { changed: false };
      await this.ip(ipCmd.addrDel(req.interface, req.address, req.prefix));
      this.logger.log(`floating IP ${req.address}/${req.prefix} down on ${req.interface}`);
      return { changed: true };
    });
  }

  /** Gratuitous ARP, only while the address is still ours (it may have moved meanwhile). */
  private async arp(iface: string, address: string, count: number): Promise<void> {
    const still = (await this.addresses().catch(() => [])).some((a) => a.address === address && a.interface === iface);
    if (!still) return;
    await this.runner.run(ipCmd.gratuitousArp(iface, address, count), { timeoutMs: (count + 3) * 1000, allowFailure: true }).catch((err) => {
      this.logger.warn(`gratuitous ARP for ${address} on ${iface} failed: ${(err as Error).message}`);
    });
  }

  private later(ms: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn();
    }, ms);
    this.timers.add(t);
  }

  onApplicationShutdown(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
