import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, TandemError, describeHookRun, type HookPoint, type HookReason } from '@tandem/contracts';
import { HostClient } from '@tandem/messaging';
import { ActivityService } from './activity.service';
import { RESOURCE_MANAGER_CONFIG, type ResourceManagerConfig } from './resource-manager.config';

/** One point of a pool's start or stop on a node: what its hooks are told. */
export interface HookCall {
  pool: string;
  node: string;
  epoch: number;
  reason: HookReason;
  /** The node the pool comes from (a start) or goes to (a stop), when there is one. */
  peer?: string | null;
  /** Who the operation is for, in the activity log. */
  actor: string;
}

/** How the hooks of a point ended: `refusal` says why a `pre-start` keeps the pool from starting. */
export interface HookOutcome {
  failed: boolean;
  refusal: string | null;
}

/**
 * The operator's hooks at the four points of a pool's start and stop on a node (the node's
 * host-executor runs them; see libs/contracts hooks.ts). Every hook run is an entry of the
 * activity log (`pool.hook.<point>`, with its exit status and the last lines it printed).
 *
 *  - `pre-start` fails (or cannot be run): the pool does not start on that node.
 *  - `post-start`, `pre-stop`, `post-stop` fail: logged; the pool's start or stop goes on (it is
 *    already up, or must come down whatever a script says).
 *  - The fence never waits for a hook: an automatic failover runs no `pre-stop` on the node it
 *    takes the pool from and does not wait for its `post-stop` (see FailoverExecutor).
 */
@Injectable()
export class PoolHooks {
  private readonly logger = new Logger('hooks');

  constructor(
    @Inject(HostClient) private readonly host: Pick<HostClient, 'call'>,
    @Inject(ActivityService) private readonly activity: Pick<ActivityService, 'record'>,
    @Inject(RESOURCE_MANAGER_CONFIG) private readonly cfg: Pick<ResourceManagerConfig, 'hookTimeoutMs'>,
  ) {}

  /** Run the point's hooks and record each run; never throws. */
  async run(point: HookPoint, c: HookCall): Promise<HookOutcome> {
    const action = `pool.hook.${point}`;
    let result;
    try {
      result = await this.host.call(
        c.node,
        'hook.run',
        { pool: c.pool, point, epoch: c.epoch, reason: c.reason, peer: c.peer ?? null, timeoutMs: this.cfg.hookTimeoutMs },
        // the host-executor kills them at the timeout; the answer may take a little longer
        this.cfg.hookTimeoutMs + 10_000,
      );
    } catch (err) {
      // a node whose host-executor predates hooks (a rolling upgrade) has none
      if ((err as TandemError).code === ErrorCode.UnknownOperation) {
        this.logger.warn(`${c.node} runs no hooks (its host-executor does not know hook.run): upgrade it`);
        return { failed: false, refusal: null };
      }
      const why = `the ${point} hooks of pool ${c.pool} could not be run on ${c.node}: ${(err as Error).message}`;
      this.logger.warn(why);
      await this.activity.record(c.actor, action, c.pool, 'failed', why);
      return { failed: true, refusal: why };
    }
    let refusal: string | null = null;
    for (const r of result.runs) {
      const d = describeHookRun(c.node, r);
      await this.activity.record(c.actor, action, c.pool, d.ok ? 'succeeded' : 'failed', d.ok ? undefined : d.summary, d.detail);
      if (!d.ok) {
        this.logger.warn(`${point} of ${c.pool}: ${d.summary}`);
        refusal ??= d.summary;
      }
    }
    return { failed: result.failed, refusal };
  }

  /** `pre-start`: throws (naming the hook, its exit and its last lines) when the pool must not start on the node. */
  async preStart(c: HookCall): Promise<void> {
    const o = await this.run('pre-start', c);
    if (o.failed) throw new TandemError(ErrorCode.CommandFailed, `the pre-start hooks refused to start pool ${c.pool} on ${c.node}: ${o.refusal ?? 'a hook failed'}`, 'pool');
  }

  /** Run in the background: nothing waits for it (a failover's bring-up and release). */
  background(point: HookPoint, c: HookCall): void {
    void this.run(point, c).catch((err) => this.logger.error(`${point} hooks of ${c.pool} on ${c.node}: ${(err as Error).message}`));
  }
}
