import { z } from 'zod';
import { epochSchema, nodeIdSchema, poolNameSchema } from './names';

/**
 * Per-pool hooks: executables an operator puts on each node, run by the host-executor at fixed
 * points of a pool's start and stop there (as RSF-1's start/stop scripts). Version 1.
 *
 * Where they live (the node's hooks directory, TANDEM_HOOKS_DIR, default /etc/tandem/hooks):
 *   <dir>/<point>.d/*             for every pool
 *   <dir>/pools/<POOL>/<point>.d/* for that pool only
 * run in the order of their names (run-parts style: names of letters, digits, _ and - only;
 * `*.dpkg-old`, `foo~`, dot files and anything not executable are skipped). At a start point the
 * every-pool hooks run first, then the pool's own; at a stop point the pool's own first.
 */
export const HOOK_POINTS = ['pre-start', 'post-start', 'pre-stop', 'post-stop'] as const;
export const hookPointSchema = z.enum(HOOK_POINTS);
export type HookPoint = z.infer<typeof hookPointSchema>;

/** Why the pool starts or stops on the node: the operation (TANDEM_REASON). */
export const HOOK_REASONS = ['attach', 'reattach', 'move', 'failover', 'export', 'restore'] as const;
export const hookReasonSchema = z.enum(HOOK_REASONS);
export type HookReason = z.infer<typeof hookReasonSchema>;

/** The default directory of a node's hooks. */
export const DEFAULT_HOOKS_DIR = '/etc/tandem/hooks';
/** How many of the last lines a hook printed are kept (stdout and stderr together), and how long each may be. */
export const HOOK_OUTPUT_LINES = 20;
export const HOOK_OUTPUT_LINE_CHARS = 400;
/** A hook's file name, run-parts style. */
export const hookFileNameSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const hookRunRequestSchema = z
  .object({
    pool: poolNameSchema,
    point: hookPointSchema,
    /** The fencing epoch the pool (is to) run under on this node. */
    epoch: epochSchema,
    reason: hookReasonSchema,
    /** The node the pool comes from or goes to, when there is one (TANDEM_PEER). */
    peer: nodeIdSchema.nullable().default(null),
    /** Every hook of this point together is killed (its whole process group) when this is reached. */
    timeoutMs: z.number().int().min(1_000).max(600_000),
  })
  .strict();

/** One hook's run. `exitCode` null: killed (by the timeout, `timedOut`, or `signal`), or not run at all (neither: `output` says why). */
export const hookRunSchema = z.object({
  hook: z.string(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  ms: z.number(),
  /** The last lines it printed (stdout and stderr as they came). */
  output: z.array(z.string()).max(HOOK_OUTPUT_LINES),
});
export type HookRun = z.infer<typeof hookRunSchema>;

/** `failed`: a hook did not exit 0 (at `pre-start` the ones after it did not run). */
export const hookRunResultSchema = z.object({ runs: z.array(hookRunSchema), failed: z.boolean() });
export type HookRunResult = z.infer<typeof hookRunResultSchema>;

/** One line for the activity log: how a hook ended, and what it printed last. */
export function describeHookRun(node: string, r: HookRun): { ok: boolean; summary: string; detail: string } {
  const ok = r.exitCode === 0;
  const how = r.timedOut
    ? `killed at its timeout after ${Math.round(r.ms)} ms`
    : r.exitCode !== null
      ? `exited ${r.exitCode} after ${Math.round(r.ms)} ms`
      : r.signal
        ? `killed by ${r.signal}`
        : 'was not run';
  const last = r.output.length ? `; last lines: ${r.output.join(' | ')}` : '; it printed nothing';
  return { ok, summary: `hook ${r.hook} on ${node} ${how}${ok ? '' : last}`, detail: `hook ${r.hook} on ${node} ${how}${last}` };
}
