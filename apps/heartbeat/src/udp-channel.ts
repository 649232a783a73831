import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * The UDP heartbeat socket, bound on this node's heartbeat address only (never the wildcard),
 * so heartbeats use the heartbeat network. Rebinds when the address changes; a failed bind is
 * kept as `error` and retried by `ensureBound`.
 */
export class UdpChannel {
  private socket: Socket | null = null;
  private bound: string | null = null;
  private wanted: string | null = null;
  private binding: Promise<void> | null = null;
  error: string | null = null;
  sent = 0;
  sendErrors = 0;
  lastSendError: string | null = null;

  constructor(
    readonly port: number,
    private readonly onPacket: (msg: Buffer, from: RemoteInfo) => void,
  ) {}

  get boundAddress(): string | null {
    return this.bound;
  }

  get wantedAddress(): string | null {
    return this.wanted;
  }

  /** Bind on `address` (null: close). Resolves once bound or failed (see `error`). */
  async bindTo(address: string | null): Promise<void> {
    this.wanted = address;
    await this.ensureBound();
  }

  async ensureBound(): Promise<void> {
    while (this.binding) await this.binding;
    if (this.wanted === this.bound && (this.bound === null || this.socket)) return;
    this.binding = this.rebind(this.wanted).finally(() => {
      this.binding = null;
    });
    await this.binding;
  }

  private async rebind(address: string | null): Promise<void> {
    this.closeSocket();
    if (address === null) {
      this.error = null;
      return;
    }
    const sock = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind({ address, port: this.port, exclusive: true }, () => {
          sock.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      sock.close();
      this.error = `cannot bind ${address}:${this.port}: ${(err as Error).message}`;
      return;
    }
    sock.on('message', (msg, rinfo) => this.onPacket(msg, rinfo));
    sock.on('error', (err) => {
      this.error = err.message;
    });
    this.socket = sock;
    this.bound = address;
    this.error = null;
  }

  /** Send to every address; failures (link down, no route) are counted, never thrown. */
  send(packet: Buffer, addresses: readonly string[]): void {
    const sock = this.socket;
    if (!sock) return;
    for (const addr of addresses) {
      try {
        sock.send(packet, this.port, addr, (err) => {
          if (err) {
            this.sendErrors++;
            this.lastSendError = `${addr}: ${err.message}`;
          } else this.sent++;
        });
      } catch (err) {
        this.sendErrors++;
        this.lastSendError = `${addr}: ${(err as Error).message}`;
      }
    }
  }

  close(): void {
    this.wanted = null;
    this.closeSocket();
  }

  private closeSocket(): void {
    if (this.socket) {
      try {
        this.socket.close();
      } catch {
        // already closed
      }
    }
    this.socket = null;
    this.bound = null;
  }
}
