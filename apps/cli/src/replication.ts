import { ErrorCode, type ReplicaState, type ReplicationPoolStatus, type ReplicationSettingsResult } from '@tandem/contracts';
import { ApiError } from './client';
import { formatBytes, humanDuration, localTime, rateText, seconds, table } from './output';

/** `tandem replication settings`: the schedule, the derived windows and SSH endpoints in words, then warnings and notes. */
export function settingsText(r: ReplicationSettingsResult): string {
  const s = r.schedule;
  const rows: [string, string][] = [
    ['snapshot interval', `${humanDuration(s.snapshotIntervalS)} (on the active node)`],
    ['retention', `${s.retention} snapshot${s.retention === 1 ? '' : 's'}`],
    ['pull interval', `${humanDuration(s.pullIntervalS)} (each passive node pulls what it misses)`],
    ['stall timeout', `${humanDuration(s.stallTimeoutS)} (a transfer moving no byte this long is retried)`],
    ['rollback window', `${humanDuration(r.rollbackWindowS)} (snapshot interval × retention: how far back a replica can be rolled)`],
    ['passive-down limit', `${humanDuration(r.passiveDownLimitS)} (a passive away longer needs a full resync)`],
  ];
  const addresses = Object.entries(r.sshAddresses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([n, a]) => `${n} ${a}`);
  rows.push(['ssh endpoints', `port ${r.sshPort}${addresses.length ? `: ${addresses.join(', ')}` : ''}`]);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = [r.pool ? `replication settings of pool ${r.pool}` : 'replication settings (cluster-wide)', ...rows.map(([k, v]) => `  ${(k + ':').padEnd(w + 1)}  ${v}`)];
  for (const x of r.warnings) lines.push(`warning: ${x}`);
  for (const x of r.notes) lines.push(`note: ${x}`);
  return `${lines.join('\n')}\n`;
}

/** `in 4 min 10 s`, `due now`, relative to `now`. */
export function fromNow(iso: string | null, now: Date): string {
  if (!iso) return '-';
  const ms = Date.parse(iso) - now.getTime();
  if (Number.isNaN(ms)) return iso;
  return ms <= 0 ? 'due now' : `in ${humanDuration(Math.ceil(ms / 1000))}`;
}

/** A replica's state, with the transfer running now: `bootstrapping 12.0 MiB of 40.0 MiB (30 %)`. */
export function replicaStateText(r: ReplicaState): string {
  const p = r.progress;
  if (!p) return r.state;
  const pct = p.total ? ` (${Math.min(100, Math.floor((p.bytes * 100) / p.total))} %)` : '';
  return `${r.state} ${formatBytes(p.bytes)}${p.total ? ` of ${formatBytes(p.total)}` : ''}${pct}`;
}

function lagText(r: ReplicaState): string {
  if (r.lagSeconds === null) return '-';
  return `${humanDuration(r.lagSeconds)}${r.lagBytes ? `, ${formatBytes(r.lagBytes)}` : ''}`;
}

function transferText(r: ReplicaState): string {
  const t = r.lastTransfer;
  if (!t) return '-';
  return `${t.kind} ${formatBytes(t.bytes)} in ${seconds(t.ms)}, ${rateText(t.bytes, t.ms)}`;
}

function noteText(r: ReplicaState): string {
  const parts: string[] = [];
  if (r.reason) parts.push(r.reason.length > 60 ? `${r.reason.slice(0, 59)}…` : r.reason);
  if (r.failures > 0) parts.push(`${r.failures} failed attempt${r.failures > 1 ? 's' : ''}`);
  return parts.join('; ');
}

/** One replicated pool: what it is, where it goes, then a row per replica. */
function poolBlock(s: ReplicationPoolStatus, now: Date): string {
  const lines = [`pool ${s.pool}  active ${s.active ?? '-'}  direction ${s.direction ?? '-'}  state ${s.state}`];
  if (s.state === 'locked') {
    lines.push(s.message ?? `sync of ${s.pool} is locked`);
    if (s.possiblyMissingS !== null) lines.push(`data possibly missing: ${s.possiblyMissingS} s`);
    lines.push(`look at the old active's copy, then resume with: tandem replication resume ${s.pool}`);
  } else if (s.message) {
    lines.push(`error: ${s.message}`);
  }
  const sc = s.schedule;
  const next = s.replication?.nextSnapshotAt ?? null;
  lines.push(
    `next snapshot: ${next ? `${localTime(next)} (${fromNow(next, now)})` : '-'}; every ${humanDuration(sc.snapshotIntervalS)}, keep ${sc.retention}, pull every ${humanDuration(sc.pullIntervalS)}; rollback window ${humanDuration(s.rollbackWindowS)}`,
  );
  const replicas = Object.entries(s.replication?.replicas ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (!s.replication) lines.push('no replication record yet (the replication-scheduler writes one when it first runs for the pool)');
  else if (replicas.length === 0) lines.push('no passive replica yet');
  else {
    const rows = [['', 'REPLICA', 'STATE', 'LAG', 'NEWEST COMMON', 'LAST TRANSFER', 'NEXT PULL', 'NOTE']];
    for (const [node, r] of replicas) {
      rows.push([
        '',
        node,
        replicaStateText(r),
        lagText(r),
        r.newestCommon ? `${r.newestCommon.name} (${localTime(r.newestCommon.createdAt)})` : '-',
        transferText(r),
        fromNow(r.nextPullAt, now),
        noteText(r),
      ]);
    }
    lines.push(table(rows).trimEnd());
  }
  if (s.replication?.keepAsideOn.length) lines.push(`diverged data is kept aside on ${s.replication.keepAsideOn.join(', ')} before it receives again`);
  return lines.join('\n');
}

/** `tandem replication status [POOL]`: a block and a table per pool. */
export function replicationStatusText(list: ReplicationPoolStatus[], now = new Date()): string {
  if (list.length === 0) return 'no replicated pools (attach one with: tandem pool attach POOL --node NODE --replicated --vip IF:ADDRESS/PREFIX)\n';
  return `${[...list]
    .sort((a, b) => a.pool.localeCompare(b.pool))
    .map((s) => poolBlock(s, now))
    .join('\n\n')}\n`;
}

/** What the bootstrap of a replicated attach shows: one line per replica (keyed by node). */
export function bootstrapLines(s: ReplicationPoolStatus): Map<string, string> {
  const out = new Map<string, string>();
  if (s.state === 'locked') out.set('', `${s.pool}: ${s.message ?? 'sync is locked'}`);
  const replicas = Object.entries(s.replication?.replicas ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (replicas.length === 0) out.set('', `${s.pool}: waiting for the replication-scheduler to start the first sync`);
  for (const [node, r] of replicas) out.set(node, `${node}: ${replicaStateText(r)}${r.state === 'error' && r.reason ? ` — ${r.reason}` : ''}`);
  return out;
}

export type BootstrapEnd = 'in-sync' | 'error' | 'locked';

/** Whether the first sync is over: every replica in sync or failed (none known yet: not over), or the pool locked. */
export function bootstrapEnd(s: ReplicationPoolStatus): BootstrapEnd | null {
  if (s.state === 'locked') return 'locked';
  const replicas = Object.values(s.replication?.replicas ?? {});
  if (replicas.length === 0 || !replicas.every((r) => r.state === 'in-sync' || r.state === 'error')) return null;
  return replicas.some((r) => r.state === 'error') ? 'error' : 'in-sync';
}

export interface BootstrapWatch {
  /** GET /api/v1/replication/{pool}. */
  fetch: () => Promise<ReplicationPoolStatus>;
  /** Each changed line (not called in --json mode). */
  onLine?: (line: string) => void;
  intervalMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface BootstrapOutcome {
  end: BootstrapEnd | 'timeout';
  status: ReplicationPoolStatus | null;
}

/** Polling is held up only by answers that say "try again": no gateway, no resource-manager, no answer in time. */
function transient(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  const p = err.problem;
  return p.title === ErrorCode.Unavailable || p.title === ErrorCode.NotLeader || p.title === ErrorCode.Timeout;
}

export const BOOTSTRAP_POLL_MS = 1_000;
export const BOOTSTRAP_TIMEOUT_MS = 10 * 60_000;

/**
 * Follow the first sync of a replicated pool: its status every second, a line whenever a
 * replica's line changes, until every replica is in sync or failed, the pool is locked, or
 * 10 minutes pass.
 */
export async function watchBootstrap(w: BootstrapWatch): Promise<BootstrapOutcome> {
  const interval = w.intervalMs ?? BOOTSTRAP_POLL_MS;
  const timeout = w.timeoutMs ?? BOOTSTRAP_TIMEOUT_MS;
  const sleep = w.sleep ?? ((ms: number) => new Promise<void>((ok) => setTimeout(ok, ms)));
  const now = w.now ?? Date.now;
  const started = now();
  const shown = new Map<string, string>();
  const say = (key: string, line: string) => {
    if (shown.get(key) === line) return;
    shown.set(key, line);
    w.onLine?.(line);
  };
  let status: ReplicationPoolStatus | null = null;
  for (;;) {
    try {
      status = await w.fetch();
      for (const [key, line] of bootstrapLines(status)) say(key, line);
      const end = bootstrapEnd(status);
      if (end) return { end, status };
    } catch (err) {
      if (!transient(err)) throw err;
      say('', `(status not available: ${(err as ApiError).problem.detail})`);
    }
    if (now() - started >= timeout) return { end: 'timeout', status };
    await sleep(interval);
  }
}

/** The last line of a followed bootstrap. */
export function bootstrapDoneText(pool: string, o: BootstrapOutcome, elapsedMs: number): string {
  switch (o.end) {
    case 'in-sync':
      return `${pool}: every replica is in sync (first sync took ${seconds(elapsedMs)})`;
    case 'error':
      return `${pool}: the first sync failed on ${Object.entries(o.status?.replication?.replicas ?? {})
        .filter(([, r]) => r.state === 'error')
        .map(([n]) => n)
        .join(', ')}; it is retried on its schedule (tandem replication status ${pool})`;
    case 'locked':
      return `${pool}: ${o.status?.message ?? 'sync is locked'} (tandem replication status ${pool})`;
    case 'timeout':
      return `${pool}: the first sync is still running after ${humanDuration(elapsedMs / 1000)}; follow it with tandem replication status ${pool}`;
  }
}

/** A public key for a line: its type and the end of its key material. */
export function keyText(key: string): string {
  const [type, material] = key.trim().split(/\s+/);
  if (!material) return key.length > 24 ? `…${key.slice(-16)}` : key;
  return `${type} …${material.slice(-16)}`;
}
