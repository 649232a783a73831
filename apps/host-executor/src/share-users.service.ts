import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { mkdir, readFile } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import { dirname, join } from 'node:path';
import { Events, SHARE_USER_RECORD, SHARE_USER_UIDS, type ShareUserRecord } from '@tandem/contracts';
import { ProcessRunner } from '@tandem/host';
import { OrderedEvents, followRecords } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { smbpasswdLine } from '@tandem/shares';

/** The smbpasswd file of this node's share users, read by every smbd of the node. */
export function shareUsersPassdb(stateDir: string): string {
  return join(stateDir, 'host-executor', 'smb-users', 'smbpasswd');
}

/** The GECOS field of every account Tandem makes: only such an account is ever changed or deleted by it. */
export const SHARE_USER_COMMENT = 'Tandem share user';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  comment: string;
}

/** /etc/passwd, parsed (the lines that are accounts). */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 7 || !f[0]) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), comment: f[4] });
  }
  return out;
}

/** What to do so that this node's accounts match the share users: pure, so it is tested on its own. */
export function planAccounts(
  users: readonly ShareUserRecord[],
  passwd: readonly PasswdEntry[],
): { add: ShareUserRecord[]; remove: string[]; ok: ShareUserRecord[]; refused: Array<{ user: ShareUserRecord; why: string }> } {
  const byName = new Map(passwd.map((p) => [p.name, p]));
  const byUid = new Map(passwd.map((p) => [p.uid, p]));
  const ours = (p: PasswdEntry) => p.comment === SHARE_USER_COMMENT && p.uid >= SHARE_USER_UIDS.min && p.uid <= SHARE_USER_UIDS.max;
  const add: ShareUserRecord[] = [];
  const ok: ShareUserRecord[] = [];
  const refused: Array<{ user: ShareUserRecord; why: string }> = [];
  const remove = new Set<string>();
  for (const u of users) {
    const named = byName.get(u.name);
    const holder = byUid.get(u.uid);
    if (named && ours(named) && named.uid === u.uid) ok.push(u);
    else if (named && !ours(named)) refused.push({ user: u, why: `this node has an account named ${u.name} of its own (uid ${named.uid}); rename one of them` });
    else if (holder && holder.name !== u.name && !ours(holder)) refused.push({ user: u, why: `uid ${u.uid} belongs to ${holder.name} on this node` });
    else {
      // ours under another uid, or our account of a removed user on that uid: made again
      if (named) remove.add(named.name);
      if (holder && holder.name !== u.name) remove.add(holder.name);
      add.push(u);
    }
  }
  const wanted = new Set(users.map((u) => u.name));
  for (const p of passwd) if (ours(p) && !wanted.has(p.name)) remove.add(p.name);
  return { add, remove: [...remove].sort(), ok, refused };
}

/**
 * The share users on this node: a unix account for each (the same uid on every node, no home, no
 * shell, no password of its own) and the smbpasswd file every smbd of this node checks SMB logins
 * against. Follows the share users' records and applies each change at once; an account it cannot
 * make (the name or the uid is another account's here) is told (log and event) and left out of
 * the file, so that user is refused here, never let in as someone else.
 */
@Injectable()
export class ShareUsersService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('share-users');
  private readonly users = new Map<string, ShareUserRecord>();
  private stopped = false;
  private caughtUp = false;
  private running: Promise<void> = Promise.resolve();
  private again = false;
  private readonly told = new Set<string>();
  readonly passdb: string;

  constructor(
    private readonly runner: ProcessRunner,
    @Inject(SERVICE_CONTEXT) private readonly ctx: ServiceContext,
    private readonly events: OrderedEvents,
  ) {
    this.passdb = shareUsersPassdb(ctx.config.stateDir);
  }

  onModuleInit(): void {
    void followRecords(
      this.ctx.nc,
      SHARE_USER_RECORD,
      (name, rec) => {
        if (rec) this.users.set(name, rec);
        else this.users.delete(name);
        if (this.caughtUp) this.apply();
      },
      {
        stopped: () => this.stopped,
        retryMs: 2_000,
        reopenEveryMs: 60_000,
        onCaughtUp: () => {
          this.caughtUp = true;
          this.apply();
        },
        onMalformed: (id, why) => this.logger.warn(`${why}: share user ${id} is left out until its record is written anew (tandem share user passwd ${id})`),
        onError: (err) => {
          if (!this.stopped) this.logger.debug(`share user records watch: ${err.message}; again in 2 s`);
        },
      },
    );
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }

  /** Resolves once the accounts and the file match the records as last seen (for tests and shutdown). */
  settled(): Promise<void> {
    return this.running;
  }

  private apply(): void {
    if (this.again) return;
    this.again = true;
    this.running = this.running.then(async () => {
      this.again = false;
      try {
        await this.reconcile([...this.users.values()]);
      } catch (err) {
        this.logger.error(`share users: ${(err as Error).message}; tried again at the next change or restart`);
      }
    });
  }

  private async reconcile(users: ShareUserRecord[]): Promise<void> {
    const plan = planAccounts(users, parsePasswd(await readFile('/etc/passwd', 'utf8')));
    for (const name of plan.remove) {
      try {
        // --force: an SMB session of the user may still run as it (it ends at its next request)
        await this.runner.run(['userdel', '--force', name], { timeoutMs: 15_000 });
        this.logger.log(`share user account ${name} removed`);
      } catch (err) {
        this.logger.warn(`share user account ${name} could not be removed: ${(err as Error).message.split('\n')[0]}; it is no longer in the share users' file, so it cannot log in`);
      }
    }
    const made: ShareUserRecord[] = [];
    for (const u of plan.add) {
      try {
        // the group `users` exists on every Debian system: the same gid everywhere, like the uid
        await this.runner.run(
          ['useradd', '--uid', String(u.uid), '--gid', 'users', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--comment', SHARE_USER_COMMENT, u.name],
          { timeoutMs: 15_000 },
        );
        made.push(u);
        this.logger.log(`share user account ${u.name} (uid ${u.uid}) made`);
      } catch (err) {
        plan.refused.push({ user: u, why: `useradd failed: ${(err as Error).message.split('\n')[0]}` });
      }
    }
    for (const r of plan.refused) {
      const key = `${r.user.name}:${r.why}`;
      if (this.told.has(key)) continue;
      this.told.add(key);
      this.logger.warn(`share user ${r.user.name} cannot log in on this node: ${r.why}`);
      this.events.publish(Events.nodeShareUserRefused, this.ctx.config.nodeId, { node: this.ctx.config.nodeId, user: r.user.name, uid: r.user.uid, reason: r.why });
    }
    const usable = [...plan.ok, ...made].sort((a, b) => a.name.localeCompare(b.name));
    await this.writePassdb(usable);
  }

  /** The whole file, written aside and renamed over the old one (smbd reads it at each login: it never sees half of it). */
  private async writePassdb(users: ShareUserRecord[]): Promise<void> {
    await mkdir(dirname(this.passdb), { recursive: true, mode: 0o700 });
    const text = users.map((u) => smbpasswdLine(u)).join('\n') + (users.length ? '\n' : '');
    await writeFileAtomic(this.passdb, text, { mode: 0o600, fsync: true });
  }
}
