import { Inject, Injectable, Logger } from '@nestjs/common';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { utils, type ParsedKey } from 'ssh2';
import { writeStateFile } from '@tandem/config';
import { ErrorCode, TandemError, type HostOpResults } from '@tandem/contracts';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { publicKeyLine } from './ssh-key-format';

/** One key: the private key (OpenSSH format, as the file holds it) and its public line. */
export interface SshKey {
  private: string;
  public: string;
}
/** A node's replication keys: the host key its endpoint presents, the client key it logs in to peers with. */
export interface SshKeySet {
  host: SshKey;
  client: SshKey;
}

const FILES = { host: 'host_ed25519', client: 'client_ed25519' } as const;
/** Written in `pending/` before its keys move into place: a commit cut short is finished at the next start. */
const COMMIT_MARKER = 'committing';

/**
 * The node's own replication keys, made at first start (ed25519) and kept under
 * `<stateDir>/ssh/` (directory 0700, files 0600): `host_ed25519`, `client_ed25519` and their
 * `.pub`. A rotation makes a pending set in `ssh/pending/` first (`prepare`) — the current keys
 * stay in use while the cluster pins the new ones next to them — and `commit` moves it into
 * place.
 */
@Injectable()
export class SshKeysService {
  private readonly logger = new Logger('ssh-keys');
  private readonly dir: string;
  private readonly pendingDir: string;
  private keys: SshKeySet | null = null;
  private pendingKeys: SshKeySet | null = null;
  /** Why the keys cannot be used (a key file that is not a key): told to every caller instead of making new keys behind the cluster's back. */
  private problem: string | null = null;
  private readonly listeners: Array<(keys: SshKeySet) => void> = [];

  constructor(@Inject(SERVICE_CONTEXT) ctx: Pick<ServiceContext, 'config'>) {
    this.dir = join(ctx.config.stateDir, 'ssh');
    this.pendingDir = join(this.dir, 'pending');
    try {
      privateDir(this.dir);
      this.finishCommit();
      this.keys = this.loadOrMake(this.dir);
    } catch (err) {
      this.problem = (err as Error).message;
      this.logger.error(`replication keys unusable: ${this.problem}`);
      return;
    }
    try {
      // a prepare cut short is finished: its keys were not handed out yet
      if (existsSync(this.pendingDir)) this.pendingKeys = this.loadOrMake(this.pendingDir);
    } catch (err) {
      // a broken pending set must not cost the current keys: it is moved aside and can be prepared anew
      const aside = `${this.pendingDir}.broken-${Date.now()}`;
      renameSync(this.pendingDir, aside);
      this.logger.error(`pending replication keys unusable (${(err as Error).message}): moved to ${aside}; prepare the rotation again`);
    }
  }

  /** The current keys (throws when they could not be read). */
  current(): SshKeySet {
    if (!this.keys) throw new TandemError(ErrorCode.Unavailable, `this node's replication keys cannot be used: ${this.problem}`);
    return this.keys;
  }

  /** Called with the new current keys after a commit (the endpoint presents the new host key from then on). */
  onCommit(listener: (keys: SshKeySet) => void): void {
    this.listeners.push(listener);
  }

  publicKeys(): HostOpResults['ssh.keys'] {
    const k = this.current();
    return { hostKey: k.host.public, clientKey: k.client.public, pending: this.pendingKeys ? { hostKey: this.pendingKeys.host.public, clientKey: this.pendingKeys.client.public } : null };
  }

  /** Make the pending keys (kept on disk); the current ones stay in use. Again while pending: the same pending keys. */
  prepare(): HostOpResults['ssh.rotate'] {
    this.current();
    if (!this.pendingKeys) {
      privateDir(this.pendingDir);
      this.pendingKeys = this.loadOrMake(this.pendingDir);
      this.logger.log(`replication keys prepared: host ${this.pendingKeys.host.public}, client ${this.pendingKeys.client.public} (the current ones stay in use until commit)`);
    }
    return { hostKey: this.pendingKeys.host.public, clientKey: this.pendingKeys.client.public };
  }

  /** Make the pending keys current. Nothing pending (a commit already done): the current keys, unchanged. */
  commit(): HostOpResults['ssh.rotate'] {
    this.current();
    if (this.pendingKeys) {
      const next = this.pendingKeys;
      writeKeyFile(join(this.pendingDir, COMMIT_MARKER), '');
      this.finishCommit();
      this.keys = next;
      this.pendingKeys = null;
      this.logger.log(`replication keys rotated: host ${next.host.public}, client ${next.client.public}`);
      for (const l of this.listeners) l(next);
    }
    const k = this.current();
    return { hostKey: k.host.public, clientKey: k.client.public };
  }

  /** A commit marked but not finished (the process stopped half way): move what is left, then drop `pending/`. */
  private finishCommit(): void {
    if (!existsSync(join(this.pendingDir, COMMIT_MARKER))) return;
    for (const name of Object.values(FILES)) {
      for (const file of [name, `${name}.pub`]) {
        if (existsSync(join(this.pendingDir, file))) renameSync(join(this.pendingDir, file), join(this.dir, file));
      }
    }
    rmSync(this.pendingDir, { recursive: true, force: true });
  }

  private loadOrMake(dir: string): SshKeySet {
    return { host: this.loadOrMakeOne(dir, FILES.host), client: this.loadOrMakeOne(dir, FILES.client) };
  }

  private loadOrMakeOne(dir: string, name: string): SshKey {
    const file = join(dir, name);
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      const key = utils.parseKey(text);
      if (key instanceof Error || !key.isPrivateKey()) {
        throw new Error(
          `${file} is not an OpenSSH private key (${key instanceof Error ? key.message : 'a public key'}); move it away to make a new one (peers then refuse this node until its new keys are pinned: tandem replication keys rotate)`,
        );
      }
      chmodSync(file, 0o600);
      return { private: text, public: publicKeyLine(key) };
    }
    // the key pair made here is this node's identity to its peers from now on
    const { pair, key } = makeEd25519();
    const pub = publicKeyLine(key);
    writeKeyFile(`${file}.pub`, `${pub}\n`);
    writeKeyFile(file, pair.private);
    this.logger.log(`made ${file}: ${pub}`);
    return { private: pair.private, public: pub };
  }
}

/**
 * A new ed25519 key pair that reads back. About one key in three hundred that ssh2 makes has its
 * public half a byte short (a leading zero byte dropped) and cannot be read back: such a pair is
 * thrown away and another made.
 */
export function makeEd25519(generate = () => utils.generateKeyPairSync('ed25519'), attempts = 10): { pair: { private: string; public: string }; key: ParsedKey } {
  let why = '';
  for (let i = 0; i < attempts; i++) {
    const pair = generate();
    const key = utils.parseKey(pair.private);
    if (!(key instanceof Error)) return { pair, key };
    why = key.message;
  }
  throw new Error(`no ed25519 key made in ${attempts} attempts could be read back (${why})`);
}

/** A directory only the owner can enter (0700, also when it existed with other modes). */
function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Written whole or not at all (a temporary file, synced, renamed, its directory synced), mode 0600 from its creation on. */
function writeKeyFile(file: string, text: string): void {
  writeStateFile(file, text, 0o600);
}
