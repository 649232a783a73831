import { Inject, Injectable } from '@nestjs/common';
import {
  ErrorCode,
  SHARE_USER_RECORD,
  SHARE_USER_UIDS,
  SHARE_USER_UID_RECORD,
  TandemError,
  type HaPool,
  type RmOpParsed,
  type RmOpResults,
  type ShareUserInfo,
  type ShareUserRecord,
  type ShareUserUid,
} from '@tandem/contracts';
import { KvRecordStore } from '@tandem/messaging';
import { SERVICE_CONTEXT, type ServiceContext } from '@tandem/service-kit';
import { inSpan } from '@tandem/telemetry';
import { ActivityService } from './activity.service';
import { PoolStore } from './pool.store';

/** The SMB shares (POOL/SHARE) that let `user` in. */
export function sharesOf(user: string, pools: readonly HaPool[]): string[] {
  return pools.flatMap((p) => p.shares.filter((s) => s.protocol === 'smb' && (s.users ?? []).includes(user)).map((s) => `${p.name}/${s.name}`)).sort();
}

/**
 * The share users (`tandem share user`): one record each in the share users' bucket, which every
 * host-executor follows to keep its unix accounts and smbpasswd file. Uids come from a counter
 * that only grows. The NT hash arrives made (the api-gateway turned the password into it) and
 * never leaves: answers show the name, uid, times and shares.
 */
@Injectable()
export class ShareUsersService {
  private readonly users: KvRecordStore<ShareUserRecord>;
  private readonly uids: KvRecordStore<ShareUserUid>;

  constructor(
    @Inject(SERVICE_CONTEXT) ctx: ServiceContext,
    private readonly pools: PoolStore,
    private readonly activity: ActivityService,
  ) {
    this.users = new KvRecordStore(ctx.nc, SHARE_USER_RECORD);
    this.uids = new KvRecordStore(ctx.nc, SHARE_USER_UID_RECORD);
  }

  private recorded<T>(actor: string, action: string, target: string, fn: () => Promise<T>): Promise<T> {
    return inSpan(action, { 'tandem.target': target }, () => this.activity.track(actor, action, target, fn));
  }

  private info(u: ShareUserRecord, pools: readonly HaPool[]): ShareUserInfo {
    return { name: u.name, uid: u.uid, createdAt: u.createdAt, passwordSetAt: u.passwordSetAt, by: u.by, shares: sharesOf(u.name, pools) };
  }

  async list(): Promise<RmOpResults['share-user.list']> {
    const pools = await this.pools.list();
    return (await this.users.list()).map((r) => this.info(r.value, pools)).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Throws NOT_FOUND naming `field` unless every one of `names` is a share user. */
  async requireUsers(names: readonly string[], field: string): Promise<void> {
    if (names.length === 0) return;
    const known = new Set((await this.users.list()).map((r) => r.id));
    const missing = names.filter((n) => !known.has(n));
    if (missing.length) throw new TandemError(ErrorCode.NotFound, `no share user ${missing.join(', ')}: add it first with tandem share user add ${missing[0]}`, field);
  }

  private async nextUid(): Promise<number> {
    for (let tries = 0; tries < 5; tries++) {
      const cur = await this.uids.get('next-uid');
      const uid = cur?.value.next ?? SHARE_USER_UIDS.min;
      if (uid > SHARE_USER_UIDS.max) throw new TandemError(ErrorCode.Internal, `every share user uid up to ${SHARE_USER_UIDS.max} was given out`);
      const r = await this.uids.put('next-uid', { next: uid + 1 }, cur?.revision ?? 0);
      if (r.ok) return uid;
    }
    throw new TandemError(ErrorCode.InTransition, 'the share user uid counter kept changing: try again', 'name');
  }

  add(req: RmOpParsed<'share-user.add'>): Promise<RmOpResults['share-user.add']> {
    return this.recorded(req.actor, 'share-user.add', req.name, async () => {
      if (await this.users.get(req.name)) throw new TandemError(ErrorCode.AlreadyExists, `share user ${req.name} exists: set its password with tandem share user passwd ${req.name}`, 'name');
      const now = new Date().toISOString();
      const rec: ShareUserRecord = { name: req.name, uid: await this.nextUid(), ntHash: req.ntHash, createdAt: now, passwordSetAt: now, by: req.actor };
      const r = await this.users.put(req.name, rec, 0);
      if (!r.ok) throw new TandemError(ErrorCode.AlreadyExists, `share user ${req.name} was added meanwhile`, 'name');
      return this.info(rec, await this.pools.list());
    });
  }

  password(req: RmOpParsed<'share-user.password'>): Promise<RmOpResults['share-user.password']> {
    return this.recorded(req.actor, 'share-user.password', req.name, async () => {
      const cur = await this.users.get(req.name);
      if (!cur) throw new TandemError(ErrorCode.NotFound, `no share user ${req.name} (tandem share user list shows them)`, 'name');
      const rec: ShareUserRecord = { ...cur.value, ntHash: req.ntHash, passwordSetAt: new Date().toISOString(), by: req.actor };
      const r = await this.users.put(req.name, rec, cur.revision);
      if (!r.ok) throw new TandemError(ErrorCode.InTransition, `share user ${req.name} was changed meanwhile: try again`, 'name');
      return this.info(rec, await this.pools.list());
    });
  }

  remove(req: RmOpParsed<'share-user.remove'>): Promise<RmOpResults['share-user.remove']> {
    return this.recorded(req.actor, 'share-user.remove', req.name, async () => {
      const cur = await this.users.get(req.name);
      if (!cur) throw new TandemError(ErrorCode.NotFound, `no share user ${req.name} (tandem share user list shows them)`, 'name');
      const used = sharesOf(req.name, await this.pools.list());
      if (used.length)
        throw new TandemError(
          ErrorCode.InvalidArgument,
          `share user ${req.name} is let in by ${used.join(', ')}: take it out of those shares first (detach and attach the pool with other --share-users)`,
          'name',
        );
      await this.users.delete(req.name, cur.revision);
      return { name: req.name };
    });
  }
}
