import { Inject, Injectable, Logger } from '@nestjs/common';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client, type ClientChannel } from 'ssh2';
import {
  ErrorCode,
  Events,
  TandemError,
  baseHoldTag,
  replicationSendCommandSchema,
  type ClusterRecord,
  type EventDefinition,
  type HostOpParsed,
  type HostOpResults,
  type ReplicationSendCommand,
} from '@tandem/contracts';
import { CommandFailedError, spawnStreaming, type StreamingProcess } from '@tandem/host';
import { OrderedEvents } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { KeyedMutex } from '@tandem/util';
import { zfs, zfsError } from '@tandem/zfs';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from '../host-executor.config';
import { ZfsService } from '../zfs.service';
import { ReplicationRecords } from './replication-records.service';
import { fingerprint, keyBlob } from './ssh-key-format';
import { SshKeysService } from './ssh-keys.service';
import { ProgressThrottle, StallWatch, progressPercent } from './transfer-watch';

/** The SSH handshake and login with a peer's endpoint (the stream itself is bounded by the stall timeout). */
const CONNECT_TIMEOUT_MS = 20_000;
/** After the stream ended, its exit status and close are on their way: wait this long for them at most. */
const CLOSE_WAIT_MS = 10_000;
/** A zfs receive whose stream was cut gets this long to fail and clean up by itself before it is killed. */
const RECEIVE_GIVE_UP_MS = 10_000;
/** The sender's stderr kept for the error (its last bytes). */
const STDERR_KEEP = 8_192;
/** How a pipe reports its reader gone before the writer ended: harmless once zfs receive accepted the whole stream. */
const EARLY_CLOSE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'EPIPE']);
/** How long the exit status is waited for after such an early close. */
const EARLY_CLOSE_WAIT_MS = 1_000;

type Receive = HostOpParsed<'replication.receive'>;

const shortOf = (snapshot: string) => snapshot.slice(snapshot.indexOf('@') + 1);
const datasetOf = (snapshot: string) => snapshot.slice(0, snapshot.indexOf('@'));

/**
 * The passive side of a replicated pool: pulls one dataset's snapshots from a peer's replication
 * endpoint over SSH and applies them with `zfs receive -u`. The peer must present the host key
 * pinned for it in the cluster record; this node logs in as itself with its client key. Receives
 * into one dataset run one at a time; a stream that moves no byte for its stall timeout is
 * killed on both ends.
 */
@Injectable()
export class ReplicationReceiver {
  private readonly logger = new Logger('replication-receive');
  private readonly locks = new KeyedMutex();

  constructor(
    @Inject(SERVICE_CONTEXT) private readonly ctx: Pick<ServiceContext, 'config'>,
    @Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: HostExecutorConfig,
    private readonly zfs: ZfsService,
    private readonly keys: SshKeysService,
    private readonly records: ReplicationRecords,
    private readonly events: OrderedEvents,
  ) {}

  receive(req: Receive): Promise<HostOpResults['replication.receive']> {
    return this.locks.run(req.dataset, () => this.receiveNow(req));
  }

  private async receiveNow(req: Receive): Promise<HostOpResults['replication.receive']> {
    const command = this.commandOf(req);
    const pool = req.dataset.split('/')[0];
    if (!(await this.zfs.findPool(pool)))
      throw new TandemError(ErrorCode.PoolNotFound, `pool ${pool} is not imported on ${this.me}: import it (as a replica) before receiving into ${req.dataset}`, 'dataset');
    const localBase = req.base ? `${req.dataset}@${shortOf(req.base)}` : null;
    if (localBase && !(await this.zfs.getSnapshot(localBase))) {
      throw new TandemError(ErrorCode.SnapshotNotFound, `${this.me} does not hold ${localBase}, the base of this incremental: receive in full (base null) to start over`, 'base');
    }
    if (req.rollbackTo && !(await this.zfs.getSnapshot(req.rollbackTo))) {
      throw new TandemError(ErrorCode.SnapshotNotFound, `${this.me} does not hold ${req.rollbackTo}, the snapshot to roll back to`, 'rollbackTo');
    }
    const exists = await this.datasetExists(req.dataset);

    const cluster = await this.records.freshCluster();
    const peer = cluster?.nodes.find((n) => n.id === req.from);
    if (!cluster || !peer) throw new TandemError(ErrorCode.UnknownNode, `${req.from} is not a member of the cluster: nothing is received from it`, 'from');
    const pinned = peer.ssh?.hostKeys ?? [];
    if (pinned.length === 0) {
      throw new TandemError(ErrorCode.HostKeyRefused, `no replication host key is pinned for ${req.from}: pin its keys (tandem replication keys rotate ${req.from}) before receiving from it`, 'from');
    }

    // the peer proves who it is before anything here is rolled back or destroyed
    const conn = await this.connect(req, pinned);
    try {
      if (req.rollbackTo) {
        await this.zfs.run(zfs.rollback(req.rollbackTo));
        this.logger.log(`${req.dataset} rolled back to ${req.rollbackTo}`);
      }
      let force = false;
      if (!req.base && exists) {
        // a full resync into a copy that is there: zfs receive -F replaces it once it has no snapshot left
        await this.clearSnapshots(req.dataset, cluster);
        force = true;
      }
      return await this.transfer(conn, req, command, force);
    } finally {
      conn.end();
    }
  }

  private get me(): string {
    return this.ctx.config.nodeId;
  }

  /** The send request to run on the peer, checked as the peer will check it (and the local names against it). */
  private commandOf(req: Receive): ReplicationSendCommand {
    const parsed = replicationSendCommandSchema.safeParse({ v: 1, op: 'send', snapshot: req.snapshot, base: req.base });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TandemError(ErrorCode.InvalidArgument, `${issue?.path.join('.') || 'snapshot'}: ${issue?.message}`, String(issue?.path[0] ?? 'snapshot'));
    }
    if (req.rollbackTo && datasetOf(req.rollbackTo) !== req.dataset) {
      throw new TandemError(ErrorCode.InvalidArgument, `rollbackTo must be a snapshot of ${req.dataset}, not ${req.rollbackTo}`, 'rollbackTo');
    }
    return parsed.data;
  }

  private async datasetExists(dataset: string): Promise<boolean> {
    try {
      return (await this.zfs.listDatasets(dataset)).some((d) => d.name === dataset);
    } catch (err) {
      if (err instanceof TandemError && err.code === ErrorCode.DatasetNotFound) return false;
      throw err;
    }
  }

  /** Connect and log in; the peer's host key must be one pinned for it. */
  private connect(req: Receive, pinned: string[]): Promise<Client> {
    const pinnedBlobs = pinned.map((k) => keyBlob(k)).filter((b): b is Buffer => b !== null);
    const clientKey = this.keys.current().client;
    return new Promise((resolve, reject) => {
      const conn = new Client();
      let presented: Buffer | null = null;
      let refused = false;
      let settled = false;
      conn.on('error', (err: Error & { level?: string; code?: string }) => {
        if (settled) return this.logger.debug(`connection to ${req.from}: ${err.message}`);
        settled = true;
        conn.destroy();
        if (refused && presented) return reject(this.hostKeyRefused(req, pinned, presented));
        reject(this.connectError(req, err, clientKey.public));
      });
      conn.once('ready', () => {
        settled = true;
        resolve(conn);
      });
      conn.connect({
        host: req.address,
        port: req.port,
        username: this.me,
        privateKey: clientKey.private,
        readyTimeout: CONNECT_TIMEOUT_MS,
        keepaliveInterval: 5_000,
        keepaliveCountMax: 6,
        tryKeyboard: false,
        hostVerifier: (key: Buffer) => {
          presented = Buffer.from(key);
          refused = !pinnedBlobs.some((b) => b.equals(key));
          return !refused;
        },
      });
    });
  }

  private hostKeyRefused(req: Receive, pinned: string[], presented: Buffer): TandemError {
    const pinnedPrints = pinned.map((k) => fingerprint(k));
    this.emit(Events.replicationHostKeyRefused, req.from, { node: this.me, peer: req.from, pinned: pinnedPrints, presented: fingerprint(presented) });
    this.logger.warn(`refused ${req.from}'s replication endpoint at ${req.address}:${req.port}: host key ${fingerprint(presented)}, pinned ${pinnedPrints.join(', ')}`);
    return new TandemError(
      ErrorCode.HostKeyRefused,
      `${req.from}'s replication endpoint at ${req.address}:${req.port} presented host key ${fingerprint(presented)}, but the key pinned for ${req.from} is ${pinnedPrints.join(' or ')}: ` +
        `refused, nothing received. If ${req.from} was reinstalled, rotate or re-pin its keys with tandem replication keys rotate ${req.from}; ` +
        `otherwise something else answers at that address`,
      'from',
    );
  }

  private connectError(req: Receive, err: Error & { level?: string; code?: string }, clientKey: string): TandemError {
    const at = `${req.from}'s replication endpoint at ${req.address}:${req.port}`;
    if (err.level === 'client-authentication') {
      return new TandemError(
        ErrorCode.Unauthorized,
        `${at} refused ${this.me}'s client key ${fingerprint(clientKey)}: it is not the key pinned for ${this.me} in the cluster record; pin this node's current keys (tandem replication keys rotate ${this.me})`,
        'from',
        err.message,
      );
    }
    if (err.level === 'client-timeout') return new TandemError(ErrorCode.Timeout, `${at} did not complete the SSH handshake within ${CONNECT_TIMEOUT_MS / 1000} s`, 'address', err.message);
    return new TandemError(
      ErrorCode.Unavailable,
      `cannot reach ${at}: ${err.message}. Check that its host-executor runs, that it is a member of the cluster, and its replication address (tandem replication settings)`,
      'address',
      err.message,
    );
  }

  /** Release Tandem's base holds on the dataset's snapshots and destroy them (a full resync starts from nothing). */
  private async clearSnapshots(dataset: string, cluster: ClusterRecord): Promise<void> {
    const snapshots = await this.zfs.listSnapshots(dataset, false);
    // zfs-fuse cannot list holds (no `zfs holds`): release the tag every member's base hold would have
    const tags = [...new Set(cluster.nodes.map((n) => baseHoldTag(n.id)))];
    for (const s of snapshots) {
      if (s.userrefs > 0) for (const tag of tags) await this.zfs.release(s.name, tag);
      const r = await this.zfs.destroySnapshot(s.name).catch((err: unknown) => {
        if (err instanceof TandemError && err.code === ErrorCode.PoolBusy) {
          throw new TandemError(
            ErrorCode.PoolBusy,
            `${s.name} has a hold that is not one of Tandem's base holds: a full resync of ${dataset} cannot replace it; release that hold (zfs release TAG ${s.name}) and pull again`,
            'dataset',
            err.detail,
          );
        }
        throw err;
      });
      if (r.changed) this.logger.log(`full resync of ${dataset}: destroyed ${s.name}`);
    }
  }

  private async transfer(conn: Client, req: Receive, command: ReplicationSendCommand, force: boolean): Promise<HostOpResults['replication.receive']> {
    const kind = req.base ? 'incremental' : 'full';
    const started = performance.now();
    let proc: StreamingProcess | null = null;
    let bytes = 0;
    // from the exec request on: a peer that never answers it is a stall too
    const watch = new StallWatch(req.stallTimeoutMs, (idleMs) => {
      this.logger.warn(`receive of ${req.snapshot} into ${req.dataset}: no byte for ${Math.round(idleMs)} ms; killing both ends`);
      // dropping the connection is what the sender sees: its zfs send is killed there. Here the
      // stream ends with it, and zfs receive fails on the cut stream and undoes what it began
      // before it exits (killed outright, a userspace ZFS daemon would clean up behind our back).
      conn.destroy();
      const hard = setTimeout(() => proc?.kill('SIGKILL'), RECEIVE_GIVE_UP_MS);
      hard.unref();
      void proc?.done.catch(() => undefined).finally(() => clearTimeout(hard));
    });
    const stalled = () =>
      new TandemError(
        ErrorCode.StreamStalled,
        `the stream of ${req.snapshot} from ${req.from} moved no byte for ${req.stallTimeoutMs} ms (after ${bytes} bytes): killed on both ends, ${req.dataset} is as it was before; it is pulled again`,
      );
    watch.start();
    let channel: ClientChannel;
    try {
      channel = await new Promise<ClientChannel>((resolve, reject) => conn.exec(JSON.stringify(command), (err, ch) => (err ? reject(err) : resolve(ch))));
    } catch (err) {
      watch.stop();
      if (watch.stalled) throw stalled();
      throw new TandemError(ErrorCode.StreamFailed, `${req.from} did not open the send of ${req.snapshot}: ${(err as Error).message}`);
    }
    const argv = zfs.receive(req.dataset, force);
    const receiver = spawnStreaming(argv, { timeoutMs: this.cfg.streamTimeoutMs, stdin: true });
    proc = receiver;
    let senderStderr = '';
    let exit: { code: number | null; signal?: string } | null = null;
    channel.on('exit', (code: number | null, signal?: string) => (exit = { code, signal }));
    channel.stderr.on('data', (d: Buffer) => (senderStderr = (senderStderr + d.toString('utf8')).slice(-STDERR_KEEP)));
    channel.stderr.on('error', () => undefined); // the channel's own error is the pipeline's
    const closed = new Promise<void>((r) => channel.once('close', () => r()));

    const progress = new ProgressThrottle(2_000);
    const tellProgress = () =>
      this.emit(Events.replicationProgress, req.pool, {
        from: req.from,
        to: this.me,
        dataset: req.dataset,
        kind,
        bytes,
        total: req.expectedBytes,
        percent: progressPercent(bytes, req.expectedBytes),
      });
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        watch.touch();
        if (progress.due()) tellProgress();
        cb(null, chunk);
      },
    });
    // the channel pauses while zfs receive is behind: the SSH window closes and the sender waits
    const piped = pipeline(channel, counter, receiver.stdin as NodeJS.WritableStream).then(
      () => null,
      (err: Error) => err,
    );
    const received = receiver.done.then(
      () => null,
      (err: unknown) => err,
    );
    const pipeErr = await piped;
    watch.stop(); // the stream ended: what is left is zfs receive finishing, bounded by its own timeout
    const recvErr = await received;
    // the exit status and close follow the stream; after an early close of zfs receive's input
    // (the stream accepted whole) the channel was torn down here and may not say more: no long wait
    const earlyClose = pipeErr !== null && recvErr === null && EARLY_CLOSE.has((pipeErr as NodeJS.ErrnoException).code ?? '');
    await Promise.race([closed, new Promise((r) => setTimeout(r, earlyClose ? EARLY_CLOSE_WAIT_MS : CLOSE_WAIT_MS).unref())]);
    const ms = Math.round(performance.now() - started);
    const status = exit as { code: number | null; signal?: string } | null;

    if (watch.stalled) throw stalled();
    if (status && status.code !== 0) {
      const text = senderStderr.trim() || `exit ${status.code ?? status.signal}`;
      const missing = /does not exist/i.test(text);
      throw new TandemError(
        missing ? ErrorCode.SnapshotNotFound : ErrorCode.StreamFailed,
        `${req.from} could not send ${req.snapshot}: ${text.split('\n')[0].replace(/^tandem: /, '')}`,
        missing ? (/incremental base|incremental source/i.test(text) ? 'base' : 'snapshot') : undefined,
        text,
      );
    }
    if (recvErr) {
      if (recvErr instanceof CommandFailedError) throw zfsError(argv, recvErr.stderr, recvErr.timedOut);
      throw recvErr;
    }
    // zfs receive exits 0 only on a whole, valid stream; having read its end record it may exit
    // (closing its input) before the channel tells its own end: the pipe then reports a
    // premature close, or the exit status is not read yet, though nothing is missing. Otherwise
    // a broken pipe or a missing exit status is a stream cut short.
    const receivedSnapshot = await this.zfs.getSnapshot(`${req.dataset}@${shortOf(req.snapshot)}`);
    const wholeByZfs = receivedSnapshot !== null && (!pipeErr || earlyClose);
    if (pipeErr && !wholeByZfs) throw new TandemError(ErrorCode.StreamFailed, `the stream of ${req.snapshot} from ${req.from} broke after ${bytes} bytes: ${pipeErr.message}`);
    if (!status && !wholeByZfs)
      throw new TandemError(ErrorCode.StreamFailed, `the stream of ${req.snapshot} from ${req.from} ended without an exit status after ${bytes} bytes (the connection was lost): pulled again`);

    // a passive copy is never mounted when its pool is imported
    await this.zfs.run(zfs.setCanmount(req.dataset, 'noauto'));
    const rate = ms > 0 ? ((bytes / 1e6) * 1000) / ms : 0;
    this.logger.log(`received ${req.snapshot} from ${req.from} into ${req.dataset} (${kind}): ${bytes} bytes in ${ms} ms (${rate.toFixed(1)} MB/s)`);
    return { bytes, ms, received: receivedSnapshot };
  }

  /** Events never hold up or fail a transfer (a name that cannot stand in a subject is only logged). */
  private emit<T>(def: EventDefinition<T>, id: string, data: T): void {
    try {
      this.events.publish(def, id, data);
    } catch (err) {
      this.logger.warn(`event ${def.schema} for ${id} not published: ${(err as Error).message}`);
    }
  }
}
