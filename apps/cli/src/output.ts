import { ErrorCode, type ActivityEntry, type ClusterStatus, type FloatingIp, type HaPool, type NodeStatus, type ProblemDetails, type ShareSpec } from '@tandem/contracts';

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
  return `${s.name} (${s.protocol}${s.path ? `, ${s.path}` : ''}${s.readOnly ? ', read-only' : ''})`;
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
  rows.push(['mountpoint', p.mountpoint ?? '-']);
  rows.push(['epoch', String(p.epoch)]);
  rows.push(['updated', localTime(p.updatedAt)]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${(k + ':').padEnd(w + 1)}  ${v}`).join('\n') + '\n';
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
  return `${lines.join('\n')}\n`;
}

/** 2026-01-31 14:05:09 in local time. */
export function localTime(iso: string | Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function activityTable(entries: ActivityEntry[]): string {
  if (entries.length === 0) return 'the activity log is empty\n';
  const rows = [['TIME', 'ACTOR', 'ACTION', 'TARGET', 'RESULT', 'ERROR', 'TRACE ID']];
  for (const e of [...entries].reverse()) rows.push([localTime(e.at), e.actor, e.action, e.target, e.result, e.error ?? '-', e.traceId ?? '-']);
  // The error column can be long: keep it before the trace id but do not let it widen every row.
  return table(rows.map((r) => r.map((c, i) => (i === 5 && c.length > 60 ? `${c.slice(0, 59)}…` : c))));
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
  if (p.field === 'peer' && (p.title === ErrorCode.Unavailable || p.title === ErrorCode.Timeout)) return PEER_HINT;
  switch (p.title) {
    case ErrorCode.Unavailable:
      if (p.status === 0) return `is the api-gateway running at ${ctx.api}? give another node's API with --api URL (or TANDEM_API)`;
      if (p.field === 'node') return `is ${ctx.node ?? 'the node'} running (its host-executor)? see tandem cluster status`;
      return 'check that the resource-manager runs on the nodes (its /health/ready), then retry';
    case ErrorCode.NotLeader:
      return 'the cluster is electing its resource-manager: retry in a few seconds';
    case ErrorCode.Unauthorized:
      return p.field === 'password'
        ? "--password is the admin password of the node at --peer (this node's own is --local-password or TANDEM_PASSWORD)"
        : 'check the password (TANDEM_PASSWORD or --password)';
    case ErrorCode.InvalidArgument:
      if (p.field?.startsWith('vips')) return 'give floating IPs as --vip INTERFACE:ADDRESS/PREFIX, e.g. --vip cli0:10.77.3.50/24';
      if (p.field === 'node' && /offline first/.test(p.detail)) return `take it offline first: tandem node offline ${ctx.node ?? 'NODE'}`;
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
    case ErrorCode.Timeout:
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
