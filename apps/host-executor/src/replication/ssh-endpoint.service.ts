import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Server, utils, type AuthContext, type ClientInfo, type Connection, type ServerChannel } from 'ssh2';
import type { ClusterRecord, ReplicationSendCommand } from '@tandem/contracts';
import { CommandFailedError, spawnStreaming, type StreamingProcess } from '@tandem/host';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from '../host-executor.config';
import { ZfsService } from '../zfs.service';
import { authorizeClient, endpointOf, parseSendCommand, sendArgv, sendRefusal } from './endpoint-rules';
import { ReplicationRecords } from './replication-records.service';
import { fingerprint } from './ssh-key-format';
import { SshKeysService } from './ssh-keys.service';

/** A client that has not logged in after this long is dropped (nobody holds a connection open without a key). */
const LOGIN_TIMEOUT_MS = 20_000;
/** Failed login attempts before the connection is dropped. */
const MAX_LOGIN_ATTEMPTS = 6;
/** Connections at once: a few peers, each pulling a few datasets; beyond this someone is hammering the port. */
const MAX_CONNECTIONS = 32;
/** A listen that failed (the address is not on this node yet, the port is taken) is tried again this often. */
const RELISTEN_MS = 5_000;

interface Listening {
  address: string;
  port: number;
  /** The host key it presents (a commit of new keys listens anew). */
  hostKey: string;
  server: Server;
}

/**
 * Tandem's replication SSH endpoint: an embedded SSH server (ssh2), the only thing a replication
 * key can reach. Peers log in with the client key pinned for them in the cluster record, as
 * their own node id, and may run one command: send one Tandem snapshot of a replicated pool
 * (`zfs send [-I base] snapshot`), streamed back on the channel with its exit status. Shells,
 * terminals, subsystems (sftp), environment, X11, agent and port forwarding in both directions
 * are refused. It listens on the cluster's replication SSH port at this node's replication
 * address (its heartbeat address unless the settings say otherwise), and only while this node is
 * a member.
 */
@Injectable()
export class SshEndpointService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ssh-endpoint');
  private listening: Listening | null = null;
  /** Listening changes one at a time, in the order they were asked for. */
  private applying: Promise<void> = Promise.resolve();
  private relisten: NodeJS.Timeout | undefined;
  private lastProblem = '';
  private connections = 0;
  private reread: { at: number; record: Promise<ClusterRecord | null> } | null = null;
  private readonly sends = new Set<StreamingProcess>();
  private stopped = false;

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: Pick<ServiceContext, 'config'>,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
    private readonly keys: SshKeysService,
    private readonly records: ReplicationRecords,
    private readonly zfs: ZfsService,
  ) {}

  onModuleInit(): void {
    this.records.onClusterChange(() => this.reconcile());
    this.keys.onCommit(() => this.reconcile());
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.relisten);
    for (const p of this.sends) p.kill('SIGKILL');
    await this.applying;
    this.close();
  }

  /** Where it listens now (`address:port`), or null. */
  get listeningOn(): string | null {
    return this.listening ? `${this.listening.address}:${this.listening.port}` : null;
  }

  /** Listen where the cluster record says (or stop): called on every change of the record or of the keys. */
  reconcile(): void {
    this.applying = this.applying.then(() => this.apply()).catch((err) => this.logger.error(`replication endpoint: ${(err as Error).message}`));
  }

  private async apply(): Promise<void> {
    clearTimeout(this.relisten);
    if (this.stopped) return;
    const where = endpointOf(this.records.cluster(), this.ctx.config.nodeId);
    let hostKey: string;
    try {
      hostKey = this.keys.current().host.private;
    } catch (err) {
      this.problem(`not listening: ${(err as Error).message}`);
      this.close();
      return;
    }
    if (!where.ok) {
      if (this.listening) this.logger.log(`replication endpoint closed: ${where.reason}`);
      this.close();
      return;
    }
    const { address, port } = where.value;
    const l = this.listening;
    if (l && l.address === address && l.port === port && l.hostKey === hostKey) return;
    this.close();
    try {
      this.listening = { address, port, hostKey, server: await this.listen(address, port, hostKey) };
      this.lastProblem = '';
      this.logger.log(`replication endpoint listening on ${address}:${port} (host key ${fingerprint(this.keys.current().host.public)})`);
    } catch (err) {
      this.problem(`cannot listen on ${address}:${port}: ${(err as Error).message}; trying again every ${RELISTEN_MS / 1000} s`);
      this.relisten = setTimeout(() => this.reconcile(), RELISTEN_MS);
      this.relisten.unref();
    }
  }

  /** A problem is logged once, not at every retry. */
  private problem(message: string): void {
    if (message !== this.lastProblem) this.logger.warn(message);
    this.lastProblem = message;
  }

  private listen(address: string, port: number, hostKey: string): Promise<Server> {
    const server = new Server({ hostKeys: [hostKey], ident: 'tandem-replication' }, (client, info) => this.connection(client, info));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, address, () => {
        server.off('error', reject);
        server.on('error', (err: Error) => this.logger.warn(`replication endpoint on ${address}:${port}: ${err.message}`));
        resolve(server);
      });
    });
  }

  /** Stop taking connections at once (transfers running go on to their end: the close is not waited for). */
  private close(): void {
    const l = this.listening;
    this.listening = null;
    l?.server.close();
  }

  private connection(client: Connection, info: ClientInfo): void {
    const peer = `${info.ip}:${info.port}`;
    // an error on one connection (a client that went away mid-handshake) must never take the process down
    client.on('error', (err: Error) => this.logger.debug(`replication client ${peer}: ${err.message}`));
    if (this.connections >= MAX_CONNECTIONS) {
      this.logger.warn(`replication client ${peer} dropped: already ${this.connections} connections`);
      client.end();
      return;
    }
    this.connections++;
    let node: string | null = null;
    let attempts = 0;
    const loginTimer = setTimeout(() => {
      if (node) return;
      this.logger.warn(`replication client ${peer} dropped: no login within ${LOGIN_TIMEOUT_MS / 1000} s`);
      client.end();
    }, LOGIN_TIMEOUT_MS);
    loginTimer.unref();
    client.on('close', () => {
      this.connections--;
      clearTimeout(loginTimer);
    });

    client.on('authentication', (auth: AuthContext) => {
      this.authenticate(auth, peer)
        .then((ok) => {
          if (!ok) {
            if (++attempts >= MAX_LOGIN_ATTEMPTS) client.end();
            return;
          }
          // a key offered without a signature is only a question ("would you take it?"): not a login yet
          if (auth.method === 'publickey' && auth.signature) node = auth.username;
          auth.accept();
        })
        .catch((err: Error) => {
          // nothing a client does may take this process down (it also renews the ownership lease)
          this.logger.warn(`replication client ${peer}: login failed: ${err.message}`);
          client.end();
        });
    });

    client.on('ready', () => {
      const who = `${node}@${peer}`;
      const refused = (what: string, reject: (() => void) | undefined) => {
        this.logger.warn(`replication client ${who}: ${what} refused`);
        // a request that wants no answer cannot be told no: the connection goes instead
        if (reject) reject();
        else client.end();
      };
      let sessions = 0;
      client.on('session', (accept, reject) => {
        // one command per connection: a receiver opens one session and closes the connection after it
        if (++sessions > 1) return refused('a second session', reject);
        const session = accept();
        session.on('pty', (_a, reject) => refused('a terminal (pty)', reject));
        session.on('x11', (_a, reject) => refused('X11 forwarding', reject));
        session.on('auth-agent', (_a, reject) => refused('agent forwarding', reject));
        session.on('shell', (_a, reject) => refused('a shell', reject));
        session.on('sftp', (_a, reject) => refused('sftp', reject));
        session.on('subsystem', (_a, reject, info) => refused(`the subsystem "${info.name.slice(0, 32)}"`, reject));
        // OpenSSH sends its locale (SendEnv LANG) without asking for an answer: not applied, and no reason to drop the connection
        session.on('env', (_a, reject) => reject?.());
        session.on('signal', (_a, reject) => reject?.());
        session.on('window-change', (_a, reject) => reject?.());
        session.once('exec', (acceptExec, _rejectExec, info) => {
          const channel = acceptExec();
          if (!channel) return;
          channel.on('error', (err: Error) => this.logger.debug(`replication client ${who}: channel: ${err.message}`));
          channel.stderr.on('error', () => undefined);
          this.exec(channel, client, who, info.command).catch((err: Error) => {
            this.logger.warn(`replication client ${who}: ${err.message}`);
            channel.close();
          });
        });
      });
      client.on('tcpip', (_accept, reject, info) => refused(`a connection to ${info.destIP}:${info.destPort} (local port forwarding)`, reject));
      client.on('openssh.streamlocal', (_accept, reject) => refused('a connection to a unix socket', reject));
      client.on('request', (_accept: unknown, reject: (() => void) | undefined, name: string) => refused(`${name} (remote forwarding)`, reject));
    });
  }

  /**
   * Public keys only, pinned for the member named by the user name; the signature checked as
   * ssh2's server example does. False: refused (and told so); true: the caller accepts.
   */
  private async authenticate(auth: AuthContext, peer: string): Promise<boolean> {
    if (auth.method !== 'publickey') {
      auth.reject(['publickey']);
      return false;
    }
    const cluster = this.records.cluster();
    let verdict = authorizeClient(cluster, auth.username, auth.key.data);
    // a peer that joined a moment ago may not be in the copy yet: read the record once more
    if (!verdict.ok) verdict = authorizeClient(await this.recentCluster().catch(() => cluster), auth.username, auth.key.data);
    if (!verdict.ok) {
      this.logger.warn(`replication client ${peer}: login refused: ${verdict.reason} (key ${fingerprint(auth.key.data)})`);
      auth.reject(['publickey']);
      return false;
    }
    if (auth.signature && auth.blob) {
      const key = utils.parseKey(verdict.value.key);
      if (key instanceof Error || key.verify(auth.blob, auth.signature, auth.hashAlgo) !== true) {
        this.logger.warn(`replication client ${auth.username}@${peer}: login refused: the signature does not match key ${fingerprint(auth.key.data)}`);
        auth.reject(['publickey']);
        return false;
      }
    }
    return true;
  }

  /** The cluster record read anew, at most once a second however many logins fail (a stranger's attempts cost no more than that). */
  private recentCluster(): Promise<ClusterRecord | null> {
    const now = performance.now();
    if (!this.reread || now - this.reread.at > 1_000) this.reread = { at: now, record: this.records.clusterNow(true) };
    return this.reread.record;
  }

  /** The one command: parsed, checked, then `zfs send` streamed into the channel. Anything else: a reason on stderr and exit status 1. */
  private async exec(channel: ServerChannel, client: Connection, who: string, text: string): Promise<void> {
    // nothing is read from the client, but its input must flow for the channel to close
    channel.resume();
    const parsed = parseSendCommand(text);
    if (!parsed.ok) return this.refuse(channel, who, parsed.reason);
    const command = parsed.value;
    const pool = command.snapshot.split('/')[0].split('@')[0];
    let refusal: string | null;
    try {
      refusal = sendRefusal(command, await this.records.poolMode(pool));
      if (!refusal && !(await this.zfs.getSnapshot(command.snapshot))) refusal = `snapshot ${command.snapshot} does not exist on ${this.ctx.config.nodeId}`;
      if (!refusal && command.base && !(await this.zfs.getSnapshot(command.base))) {
        refusal = `the incremental base ${command.base} does not exist on ${this.ctx.config.nodeId} (any more): a full send is needed`;
      }
    } catch (err) {
      refusal = `cannot check the request on ${this.ctx.config.nodeId}: ${(err as Error).message}`;
    }
    if (refusal) return this.refuse(channel, who, refusal);
    await this.send(channel, client, who, command);
  }

  private refuse(channel: ServerChannel, who: string, reason: string): void {
    this.logger.warn(`replication client ${who}: command refused: ${reason}`);
    channel.stderr.write(`tandem: refused: ${reason}\n`);
    channel.exit(1);
    channel.end();
  }

  private async send(channel: ServerChannel, client: Connection, who: string, command: ReplicationSendCommand): Promise<void> {
    const argv = sendArgv(command);
    const started = performance.now();
    const proc = spawnStreaming(argv, { timeoutMs: this.cfg.streamTimeoutMs, stdout: true });
    this.sends.add(proc);
    let gone = false;
    let resolveGone!: () => void;
    const goneNow = new Promise<void>((r) => (resolveGone = r));
    const onGone = () => {
      if (gone) return;
      gone = true;
      resolveGone();
      // the receiver went away (closed, stalled, killed): zfs send must not run on into nothing
      proc.kill('SIGKILL');
    };
    channel.once('close', onGone);
    client.once('close', onGone);
    this.logger.log(`sending ${command.snapshot}${command.base ? ` (incremental from ${command.base})` : ''} to ${who}`);

    let bytes = 0;
    let lastWrite: Promise<void> = Promise.resolve();
    try {
      for await (const chunk of proc.stdout as AsyncIterable<Buffer>) {
        if (gone) break;
        bytes += chunk.length;
        // the write's callback runs once the chunk went out (the peer's window allowing): the exit status must follow the last byte
        lastWrite = new Promise<void>((r) => channel.write(chunk, () => r()));
        // backpressure: the channel's buffer is full until the receiver takes more
        if (channel.writableNeedDrain) await Promise.race([new Promise((r) => channel.once('drain', r)), goneNow]);
      }
    } catch {
      // stdout torn down by the kill: the outcome is told by the exit status below
    }
    let status = 0;
    let stderr = '';
    try {
      stderr = (await proc.done).stderr;
    } catch (err) {
      status = err instanceof CommandFailedError ? (err.exitCode ?? 1) || 1 : 1;
      stderr = err instanceof CommandFailedError ? (err.timedOut ? `zfs send did not finish within ${this.cfg.streamTimeoutMs} ms\n` : err.stderr) : `${(err as Error).message}\n`;
    } finally {
      this.sends.delete(proc);
    }
    const ms = Math.round(performance.now() - started);
    if (gone) {
      this.logger.warn(`sending ${command.snapshot} to ${who}: the receiver went away after ${bytes} bytes (${ms} ms); zfs send killed`);
      return;
    }
    await Promise.race([lastWrite, goneNow]);
    if (gone) return;
    if (stderr.trim()) channel.stderr.write(stderr.endsWith('\n') ? stderr : `${stderr}\n`);
    channel.exit(status);
    channel.end();
    if (status === 0) this.logger.log(`sent ${command.snapshot} to ${who}: ${bytes} bytes in ${ms} ms`);
    else this.logger.warn(`sending ${command.snapshot} to ${who} failed (exit ${status}): ${stderr.trim().split('\n')[0]}`);
  }
}
