import { join } from 'node:path';
import { HOOK_OUTPUT_LINE_CHARS, HOOK_OUTPUT_LINES, hookFileNameSchema, poolNameSchema, type HookPoint, type HostOpParsed } from '@tandem/contracts';

/**
 * What a point's hooks are and how they are run, pure: where they live, their order, their argv
 * and environment, and the bounded tail of what they print.
 */

/** The two directories a point's hooks are found in: every pool's, then the pool's own (`pools/<POOL>/`). */
export function hookDirs(root: string, pool: string, point: HookPoint): { common: string; own: string } {
  // a pool name never holds '/', and '.' / '..' are not pool names (they do not start with a letter)
  return { common: join(root, `${point}.d`), own: join(root, 'pools', poolNameSchema.parse(pool), `${point}.d`) };
}

/** A file run-parts would run: letters, digits, _ and - only (no `x.dpkg-old`, `x~`, dot files). */
export function isHookFileName(name: string): boolean {
  return hookFileNameSchema.safeParse(name).success;
}

/**
 * The order hooks run in: each directory's by name (byte order, as run-parts); at a start point
 * every pool's hooks first, then the pool's own; at a stop point the pool's own first (the
 * reverse nesting: what the pool's own start hook set up is taken down before the general one).
 */
export function hookOrder(point: HookPoint, common: readonly string[], own: readonly string[]): Array<{ from: 'common' | 'own'; name: string }> {
  const sort = (l: readonly string[]) => l.filter(isHookFileName).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const c = sort(common).map((name) => ({ from: 'common' as const, name }));
  const o = sort(own).map((name) => ({ from: 'own' as const, name }));
  return point.endsWith('start') ? [...c, ...o] : [...o, ...c];
}

/** argv of one hook: its path, then the point and the pool (as RSF-1's scripts get `start`/`stop`). */
export function hookArgv(path: string, req: Pick<HostOpParsed<'hook.run'>, 'point' | 'pool'>): string[] {
  return [path, req.point, req.pool];
}

/** The environment a hook gets: PATH, and what it runs for — none of the service's own (its secrets stay with it). */
export function hookEnv(req: HostOpParsed<'hook.run'>, node: string, path: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    TANDEM_HOOK: req.point,
    TANDEM_POOL: req.pool,
    TANDEM_NODE: node,
    TANDEM_EPOCH: String(req.epoch),
    TANDEM_REASON: req.reason,
    ...(req.peer ? { TANDEM_PEER: req.peer } : {}),
    TANDEM_HOOK_TIMEOUT_MS: String(req.timeoutMs),
    LANG: 'C.UTF-8',
    HOME: '/',
    // what the hook was found as, for its own messages
    TANDEM_HOOK_PATH: path,
  };
}

/** The last lines of what a process prints, bounded in lines and in each line's length, whatever it prints. */
export class OutputTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(
    private readonly maxLines = HOOK_OUTPUT_LINES,
    private readonly maxChars = HOOK_OUTPUT_LINE_CHARS,
  ) {}

  push(chunk: Buffer | string): void {
    const text = this.partial + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    // a line that never ends is cut where it is, so memory stays bounded
    if (this.partial.length > this.maxChars * 4) {
      this.add(this.partial);
      this.partial = '';
    }
    for (const p of parts) this.add(p);
  }

  private add(line: string): void {
    // control characters (terminal escapes, bells) do not reach the log
    const clean = [...line.replace(/\r$/, '')].filter((ch) => ch === '\t' || (ch >= ' ' && ch !== '\u007f')).join('');
    if (clean.trim() === '') return;
    this.lines.push(clean.length > this.maxChars ? `${clean.slice(0, this.maxChars - 1)}…` : clean);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }

  /** The kept lines (with an unfinished last line). */
  last(): string[] {
    const out = [...this.lines];
    if (this.partial.trim() !== '') {
      out.push(this.partial.length > this.maxChars ? `${this.partial.slice(0, this.maxChars - 1)}…` : this.partial);
      if (out.length > this.maxLines) out.shift();
    }
    return out;
  }
}
