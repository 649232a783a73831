import {
  ErrorCode,
  type ActivityEntry,
  type ClusterStatus,
  type FloatingIp,
  type HaPool,
  type PoolLuns,
  type NodeStatus,
  type PoolOpResults,
  type ProblemDetails,
  type ReplicationPoolStatus,
  type ReplicationSchedule,
  type ShareSpec,
  type ShareUserInfo,
  type SnapshotSchedule,
  formatDuration,
} from '@tandem/contracts';

export interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** Columns padded to the widest cell; the last column is not padded. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function vipText(v: FloatingIp): string {
  return `${v.address}/${v.prefix} on ${v.interface}`;
}

export function shareText(s: ShareSpec): string {
  const access = [
    ...(s.readOnly ? ['read-only'] : []),
    // who may use it, and (NFS) whether a client's root stays root
    ...((s.clients ?? []).length ? [`clients ${(s.clients ?? []).join(' ')}`] : []),
    ...(s.protocol === 'nfs' && s.rootSquash === false ? ['root kept'] : []),
    // SMB: its users, or guests (a record from before users existed lets guests in)
    ...(s.protocol === 'smb' ? [(s.users ?? []).length ? `users ${(s.users ?? []).join(' ')}` : 'guests'] : []),
  ];
  return `${s.name} (${s.protocol}${s.path ? `, ${s.path}` : ''}${access.map((a) => `, ${a}`).join('')})`;
}

export function shareUsersTable(users: ShareUserInfo[]): string {
  if (users.length === 0) return 'no share users (add one with: tandem share user add NAME)\n';
  const rows = [['USER', 'UID', 'PASSWORD SET', 'BY', 'SHARES']];
  for (const u of users) rows.push([u.name, String(u.uid), u.passwordSetAt, u.by, u.shares.join(', ') || '-']);
  return table(rows);
}

export function poolTable(pools: HaPool[]): string {
  if (pools.length === 0) return 'no HA pools under cluster control (add one with: tandem pool attach POOL --node NODE --vip IF:ADDRESS/PREFIX)\n';
  const rows = [['POOL', 'STATE', 'NODE', 'FLOATING IPS', 'SHARES', 'EPOCH', 'NOTE']];
  for (const p of [...pools].sort((a, b) => a.name.localeCompare(b.name))) {
    rows.push([
      p.name,
      p.state,
      p.node ?? '-',
      p.vips.map((v) => `${v.address}/${v.prefix}`).join(',') || (p.fc ? 'fc' : '-'),
      p.shares.map((s) => `${s.name}/${s.protocol}`).join(',') || '-',
      String(p.epoch),
      p.state === 'in-transition' ? `${p.operation ?? ''} running` : (p.reason ?? ''),
    ]);
  }
  return table(rows);
}

/** Bytes for people: 64M, 10G, 1.5T (binary units). */
export function sizeText(bytes: number): string {
  for (const [u, n] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes >= n) return `${Number((bytes / n).toFixed(1))}${u}`;
  }
  return `${bytes}B`;
}

/** `tandem pool lun list`: the target, then one row per LUN. */
export function lunTable(t: PoolLuns): string {
  const head = `target ${t.iqn}\nportals ${t.portals.join(', ') || '-'}${t.fc ? '\nalso over Fibre Channel (ALUA: active/optimized on the serving node, standby on the others)' : ''}\nCHAP ${t.chapUser ? `user ${t.chapUser}` : 'none'}\n`;
  if (t.luns.length === 0) return `${head}no LUNs (add one with: tandem pool lun add ${t.pool} NAME --size 64M)\n`;
  const rows = [['LUN', 'NAME', 'SIZE', 'SERIAL', 'DEVICE ID']];
  for (const l of t.luns) rows.push([String(l.number), l.name, sizeText(l.sizeBytes), l.serial, l.deviceId]);
  return head + table(rows);
}

export function poolDetails(p: HaPool): string {
  const rows: [string, string][] = [
    ['pool', p.name],
    ['state', p.state + (p.state === 'in-transition' && p.operation ? ` (${p.operation})` : '')],
    ['node', p.node ?? '-'],
  ];
  if (p.reason) rows.push(['reason', p.reason]);
  rows.push(['floating IPs', p.vips.map(vipText).join(', ') || '-']);
  rows.push(['fibre channel', p.fc ? 'yes' : 'no']);
  rows.push(['shares', p.shares.map(shareText).join(', ') || '-']);
  rows.push(['LUNs', (p.luns ?? []).map((l) => `${l.number}=${l.name} (${sizeText(l.sizeBytes)})`).join(', ') || '-']);
  rows.push(['mountpoint', p.mountpoint ?? '-']);
  if (p.mode === 'replicated') {
    rows.push(['mode', 'replicated (shared nothing: every node its own pool, kept in sync)']);
    const own = scheduleOverrides(p.replication ?? {});
    if (own) rows.push(['own schedule', own]);
    if (p.syncLock) rows.push(['sync', `LOCKED since ${localTime(p.syncLock.at)} (automatic failover ${p.syncLock.from} → ${p.syncLock.to})`]);
  }
  if (p.snapshotSchedules?.length) rows.push(['snapshots', p.snapshotSchedules.map((x) => `${x.name} every ${formatDuration(x.everyS)}, keep ${x.keep}`).join('; ')]);
  rows.push(['epoch', String(p.epoch)]);
  rows.push(['updated', localTime(p.updatedAt)]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${(k + ':').padEnd(w + 1)}  ${v}`).join('\n') + '\n';
}

/** A pool's own schedule overrides, in words ('' when it has none). */
export function scheduleOverrides(own: Partial<ReplicationSchedule>): string {
  const parts: string[] = [];
  if (own.snapshotIntervalS !== undefined) parts.push(`snapshot every ${humanDuration(own.snapshotIntervalS)}`);
  if (own.retention !== undefined) parts.push(`keep ${own.retention}`);
  if (own.pullIntervalS !== undefined) parts.push(`pull every ${humanDuration(own.pullIntervalS)}`);
  if (own.stallTimeoutS !== undefined) parts.push(`stall timeout ${humanDuration(own.stallTimeoutS)}`);
  return parts.join(', ');
}

/** Seconds for people, in at most two units: `45 s`, `1 min 30 s`, `15 min`, `6 h`, `1 d 2 h`. */
export function humanDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3600],
    ['min', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = s;
  for (const [unit, n] of units) {
    if (parts.length === 2) break;
    const q = Math.floor(rest / n);
    if (q > 0) {
      parts.push(`${q} ${unit}`);
      rest -= q * n;
    } else if (parts.length === 1) {
      break; // 1 h 0 min 5 s → 1 h
    }
  }
  return parts.join(' ') || '0 s';
}

/** Bytes for people: `512 B`, `1.5 KiB`, `12.0 MiB`, `3.2 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** A transfer rate: `3.0 MiB/s` (`-` when no time passed). */
export function rateText(bytes: number, ms: number): string {
  return ms > 0 ? `${formatBytes((bytes * 1000) / ms)}/s` : '-';
}

/** The line after `pool move`; a replicated pool's final sync with its size and time. */
export function moveDone(p: PoolOpResults['pool.move'], to: string): string {
  const line = `moved ${p.name} to ${p.node ?? to} in {t}`;
  const f = p.finalSync;
  return f ? `${line}; final sync ${f.snapshot}: ${formatBytes(f.bytes)} in ${seconds(f.ms)}` : line;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function healthText(n: NodeStatus): string {
  return n.healthDetail ? `${n.health} (${clip(n.healthDetail, 48)})` : n.health;
}

/**
 * `tandem cluster status`: the cluster, then one row per node — NODE, STATE (online, offline,
 * down), HEALTH, HEARTBEAT (address and link), POOLS — with `*` marking this node (the node of
 * the api-gateway that answered), and a line when maintenance is on.
 */
export function clusterStatusText(status: ClusterStatus): string {
  const me = status.answeredBy;
  if (!status.cluster) {
    return `no cluster yet (asked ${me}): form one with tandem cluster create --heartbeat-interface IF, or join one with tandem cluster join --peer IP --password PW\n`;
  }
  const c = status.cluster;
  const lines = [`cluster ${c.id}  heartbeat interface ${c.heartbeatInterface}  formed ${localTime(c.createdAt)}`, ''];
  const rows = [['', 'NODE', 'STATE', 'HEALTH', 'HEARTBEAT', 'POOLS']];
  for (const n of [...status.nodes].sort((a, b) => a.id.localeCompare(b.id))) {
    rows.push([n.thisNode ? '*' : '', n.id, n.state, healthText(n), `${n.heartbeatAddress ?? '-'} link ${n.heartbeatLink}`, n.pools.join(',') || '-']);
  }
  lines.push(table(rows).trimEnd(), '');
  const here = status.nodes.find((n) => n.thisNode);
  lines.push(
    here ? `* this node (${here.id}), whose api-gateway answered` : `this node (${me}), whose api-gateway answered, is not in the cluster: join it with tandem cluster join --peer IP --password PW`,
  );
  if (c.maintenance) lines.push('maintenance: ON — nothing moves automatically');
  const f = status.failover;
  if (f) {
    if (f.witness === false) lines.push('witness: NOT reachable from this node — automatic failover is declined');
    if (f.declined) lines.push(`automatic failover declined: ${f.declined}`);
    for (const a of f.alarms) lines.push(`alarm: ${a}`);
  }
  // A locked pool is an alarm even from a resource-manager that does not list it among them.
  for (const r of status.replication ?? []) if (r.state === 'locked' && r.message && !f?.alarms.includes(r.message)) lines.push(`alarm: ${r.message}`);
  if (status.replication?.length) lines.push('', 'replication:', replicationSummary(status.replication).trimEnd());
  return `${lines.join('\n')}\n`;
}

/** The greatest lag of a replicated pool's replicas (null when none is known). */
function poolLag(r: ReplicationPoolStatus): string {
  const lags = Object.values(r.replication?.replicas ?? {})
    .map((x) => x.lagSeconds)
    .filter((x): x is number => x !== null);
  return lags.length ? humanDuration(Math.max(...lags)) : '-';
}

/** The replication section of `cluster status`: one row per replicated pool. */
export function replicationSummary(list: ReplicationPoolStatus[]): string {
  const rows = [['', 'POOL', 'ACTIVE', 'DIRECTION', 'STATE', 'LAG', 'NOTE']];
  for (const r of [...list].sort((a, b) => a.pool.localeCompare(b.pool))) {
    const note =
      r.state === 'locked'
        ? `${r.possiblyMissingS !== null ? `data possibly missing: ${r.possiblyMissingS} s; ` : ''}resume with: tandem replication resume ${r.pool}`
        : r.state === 'error' && r.message
          ? clip(r.message, 60)
          : '';
    rows.push(['', r.pool, r.active ?? '-', r.direction ?? '-', r.state, poolLag(r), note]);
  }
  return table(rows);
}

/** 2026-01-31 14:05:09 in local time. */
export function localTime(iso: string | Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function activityTable(entries: ActivityEntry[], filtered = false): string {
  if (entries.length === 0) return filtered ? 'no entries\n' : 'the activity log is empty\n';
  const rows = [['TIME', 'ACTOR', 'ACTION', 'TARGET', 'RESULT', 'ERROR', 'TRACE ID']];
  // an entry without an error may say more (a hook's exit and last lines)
  for (const e of [...entries].reverse()) rows.push([localTime(e.at), e.actor, e.action, e.target, e.result, e.error ?? e.detail ?? '-', e.traceId ?? '-']);
  // The error column can be long: keep it before the trace id but do not let it widen every row.
  return table(rows.map((r) => r.map((c, i) => (i === 5 && c.length > 60 ? `${c.slice(0, 59)}…` : c))));
}

/** After a page of `tandem log` with entries before it: the command line of the next page. */
export function logMoreLine(query: { limit: number; pool?: string; node?: string; result?: string }, cursor: string): string {
  const options = [`--before ${cursor}`, ...(query.limit !== 20 ? [`--limit ${query.limit}`] : [])];
  for (const k of ['pool', 'node', 'result'] as const) if (query[k] !== undefined) options.push(`--${k} ${query[k]}`);
  return `more: tandem log ${options.join(' ')}`;
}

/** One readable line per event. */
export function eventLine(envelope: unknown): string {
  const e = envelope as { at?: string; schema?: string; entity?: { kind?: string; id?: string }; source?: string; data?: unknown };
  const d = new Date(e.at ?? '');
  const time = Number.isNaN(d.getTime()) ? '?' : `${localTime(d).slice(11)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  const kind = (e.schema ?? '?').replace(/^tandem\./, '').replace(/\/\d+$/, '');
  let data = JSON.stringify(e.data ?? {});
  if (data.length > 160) data = `${data.slice(0, 159)}…`;
  return `${time}  ${kind.padEnd(22)}  ${`${e.entity?.kind ?? '?'}/${e.entity?.id ?? '?'}`.padEnd(20)}  ${(e.source ?? '').padEnd(28)}  ${data}`.trimEnd();
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/**
 * "moving tank to node-b …" while the call runs: redrawn with the elapsed time when the output
 * is a terminal, printed once otherwise.
 */
export class Progress {
  private timer?: NodeJS.Timeout;
  private readonly started = Date.now();

  constructor(
    private readonly out: Out,
    private readonly text: string,
  ) {
    if (out.isTTY) {
      this.draw();
      this.timer = setInterval(() => this.draw(), 200);
    } else {
      out.write(`${text} …\n`);
    }
  }

  private draw(): void {
    const s = Math.floor((Date.now() - this.started) / 1000);
    this.out.write(`\r\x1b[2K${this.text} …${s >= 1 ? ` ${s} s` : ''}`);
  }

  /** Stop redrawing; returns the elapsed milliseconds. */
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    if (this.out.isTTY) this.out.write('\r\x1b[2K');
    return Date.now() - this.started;
  }
}

const PEER_HINT =
  "check --peer (the heartbeat address of a node of the cluster) and that its api-gateway answers there, on the port this node's gateway calls (its TANDEM_PEER_API_PORT, default its own port)";

/** What to do next after an error. */
export function hintFor(p: ProblemDetails, ctx: { api: string; pool?: string; node?: string; command?: string }): string | undefined {
  const aboutCluster = ctx.command !== undefined && /^(cluster|node|maintenance)/.test(ctx.command);
  const aboutReplication = ctx.command !== undefined && ctx.command.startsWith('replication');
  if (ctx.command?.startsWith('share-user.') && (p.title === ErrorCode.AlreadyExists || p.title === ErrorCode.NotFound || p.title === ErrorCode.InvalidArgument))
    return /let in by/.test(p.detail) ? 'see which shares let it in: tandem share user list' : 'see the share users: tandem share user list';
  if (p.field?.endsWith('.users') && p.title === ErrorCode.NotFound) return 'see the share users: tandem share user list (add one: tandem share user add NAME)';
  if (p.field === 'peer' && (p.title === ErrorCode.Unavailable || p.title === ErrorCode.Timeout)) return PEER_HINT;
  if (p.field === 'peerFingerprint') {
    const shown = /SHA-256 ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})/.exec(p.detail)?.[1];
    return p.title === ErrorCode.HostKeyRefused
      ? "compare the fingerprint the peer's api-gateway logged at start with the one given; join again with the right one, or find what answers at that address"
      : `read the fingerprint the peer's api-gateway logged at start ("API certificate SHA-256 …"); if it is ${shown ?? 'the one shown'}, join again with --peer-fingerprint ${shown ?? 'FP'}`;
  }
  switch (p.title) {
    case ErrorCode.Unavailable:
      if (p.status === 0 && /is not trusted/.test(p.detail))
        return `the CA is the one that signed its certificate (tandem nats certs' ca.pem, when it serves the node's certificate); the fingerprint is in its api-gateway's log`;
      if (p.status === 0) return `is the api-gateway running at ${ctx.api}? give another node's API with --api URL, or several to try in turn: --api URL,URL (or TANDEM_API)`;
      if (p.field === 'node') return `is ${ctx.node ?? 'the node'} running (its host-executor)? see tandem cluster status`;
      return 'check that the resource-manager runs on the nodes (its /health/ready), then retry';
    case ErrorCode.NotLeader:
      return 'the cluster is electing its resource-manager: retry in a few seconds';
    case ErrorCode.TooManyRequests:
      return 'wait as long as the message says, then try again with the right password (TANDEM_PASSWORD or --password-file)';
    case ErrorCode.Unauthorized:
      return p.field === 'password'
        ? "--password is the admin password of the node at --peer (this node's own is --local-password or TANDEM_PASSWORD)"
        : 'check the password (TANDEM_PASSWORD or --password)';
    case ErrorCode.InvalidArgument:
      if (p.field?.startsWith('vips')) return 'give floating IPs as --vip INTERFACE:ADDRESS/PREFIX, e.g. --vip cli0:10.77.3.50/24';
      if (p.field?.startsWith('sshAddresses')) return 'give replication addresses as --ssh-address NODE=IP, cluster-wide (without --pool)';
      if (aboutReplication && p.field === 'pool') return 'see the replicated pools: tandem replication status';
      if (p.field === 'node' && /offline first/.test(p.detail)) return `take it offline first: tandem node offline ${ctx.node ?? 'NODE'}`;
      if (p.field === 'before') return 'give a cursor printed by tandem log (its line "more: tandem log --before CURSOR …" on stderr), or leave --before out for the newest entries';
      return 'see: tandem --help';
    case ErrorCode.InterfaceNotFound:
      return 'every node needs the heartbeat interface under the same name: check ip link on the node (tandem cluster status shows the interface)';
    case ErrorCode.AlreadyExists:
      return aboutCluster ? 'see tandem cluster status' : 'see tandem pool list';
    case ErrorCode.NotFound:
      if (/no cluster/.test(p.detail)) return 'form one first: tandem cluster create --heartbeat-interface IF (or join one: tandem cluster join --peer IP --password PW)';
      return aboutCluster ? 'see tandem cluster status' : 'see the pools under cluster control: tandem pool list';
    case ErrorCode.PoolNotFound:
    case ErrorCode.PoolNotManaged:
      return 'see the pools under cluster control: tandem pool list';
    case ErrorCode.UnknownNode:
      return 'check the node name: tandem cluster status lists the nodes';
    case ErrorCode.InTransition:
    case ErrorCode.PoolBusy:
      return 'another operation on the pool is running: wait for it (tandem events), then retry';
    case ErrorCode.SyncLocked:
      return `an automatic failover locked sync of ${ctx.pool ?? 'the pool'}: look at the old active's copy, then tandem replication resume ${ctx.pool ?? 'POOL'}`;
    case ErrorCode.HostKeyRefused:
      return 'a node presented another replication host key than the one pinned for it: if its keys were replaced, tandem replication keys rotate --node NODE';
    case ErrorCode.Timeout:
      if (ctx.command === 'replication.keys-rotate') return 'the rotation may still be running (the old keys stay valid until it ends): check tandem log';
      if (aboutReplication) return 'the operation may still be running: check tandem replication status and tandem log';
      return aboutCluster
        ? 'the operation may still be running: check tandem cluster status and tandem log'
        : `the operation may still be running: check tandem pool show ${ctx.pool ?? 'POOL'} and tandem log`;
    case ErrorCode.StaleEpoch:
      return `another node took the pool over meanwhile: check tandem pool show ${ctx.pool ?? 'POOL'}`;
    case ErrorCode.AddressInUse:
      return 'pick a floating IP no other pool uses (tandem pool list)';
    case ErrorCode.PoolImportedElsewhere:
      return 'the pool is imported on another node: attach it there, or export it there first';
    default:
      return p.traceId ? 'see tandem log, or the trace in the tracing backend' : 'see tandem log';
  }
}

/** `tandem pool schedule list`: one row per schedule. */
export function schedulesTable(pool: string, list: SnapshotSchedule[]): string {
  if (list.length === 0) return `pool ${pool} has no snapshot schedule (add one with tandem pool schedule add ${pool} NAME --every 1h --keep 24)\n`;
  return table([['NAME', 'EVERY', 'KEEP', 'SNAPSHOTS NAMED'], ...list.map((x) => [x.name, formatDuration(x.everyS), String(x.keep), `${pool}@tandem-${x.name}-YYYYMMDD-HHMMSS`])]);
}
