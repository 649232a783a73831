import type { DatasetInfo, ImportablePool, PoolHealth, PoolStatus, PoolSummary, SnapshotInfo } from '@tandem/contracts';

const HEALTH: readonly PoolHealth[] = ['ONLINE', 'DEGRADED', 'FAULTED', 'OFFLINE', 'UNAVAIL', 'REMOVED', 'SUSPENDED'];

export function parseHealth(v: string): PoolHealth {
  const u = v.trim().toUpperCase();
  return (HEALTH as readonly string[]).includes(u) ? (u as PoolHealth) : 'UNKNOWN';
}

/** "250M", "1.22M", "1020K", "14.2E", "0", "-" → bytes (binary units, as zpool prints). */
export function parseSize(v: string): number {
  const t = v.trim();
  if (t === '-' || t === '') return 0;
  const m = /^(\d+(?:\.\d+)?)([BKMGTPEZ]?)$/i.exec(t);
  if (!m) throw new Error(`cannot read size "${v}"`);
  const exp = 'BKMGTPEZ'.indexOf((m[2] || 'B').toUpperCase());
  return Math.round(Number(m[1]) * 1024 ** exp);
}

function rows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}

/** `zpool list -H -o name,size,allocated,free,health,guid` */
export function parseZpoolList(stdout: string): PoolSummary[] {
  return rows(stdout).map((r) => {
    if (r.length < 6) throw new Error(`unexpected zpool list line: ${r.join('\\t')}`);
    return {
      name: r[0],
      sizeBytes: parseSize(r[1]),
      allocatedBytes: parseSize(r[2]),
      freeBytes: parseSize(r[3]),
      health: parseHealth(r[4]),
      guid: r[5].trim(),
    };
  });
}

/**
 * The pools `zpool status -x` reports as suspended: ZFS stopped their I/O after device failures
 * (message ZFS-8000-HC with failmode=wait, ZFS-8000-JQ with failmode=continue). Some ZFS builds
 * (zfs-fuse) still say ONLINE for such a pool in `zpool list`; its status text tells.
 */
export function suspendedPools(statusX: string): string[] {
  const found: string[] = [];
  for (const section of statusX.split(/^(?=\s*pool:\s)/m)) {
    const name = /^\s*pool:\s*(\S+)/m.exec(section)?.[1];
    if (!name) continue;
    const state = /^\s*state:\s*(\S+)/m.exec(section)?.[1];
    if (state === 'SUSPENDED' || /ZFS-8000-(HC|JQ)\b|in response to IO failures/i.test(section)) found.push(name);
  }
  return found;
}

/** `zpool status POOL` */
export function parseZpoolStatus(stdout: string): PoolStatus {
  const name = /^\s*pool:\s*(\S+)/m.exec(stdout)?.[1];
  const state = /^\s*state:\s*(\S+)/m.exec(stdout)?.[1];
  if (!name || !state) throw new Error('unexpected zpool status output: no pool or state line');
  const errors = /^\s*errors:\s*(.*)$/m.exec(stdout)?.[1]?.trim() ?? '';
  const vdevs: PoolStatus['vdevs'] = [];
  const config = /config:\s*\n([\s\S]*?)(?:\n\s*errors:|$)/.exec(stdout)?.[1] ?? '';
  for (const line of config.split('\n')) {
    const m = /^(\t|\s*)(\s*)(\S+)\s+([A-Z]+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(line);
    if (!m || m[3] === 'NAME') continue;
    const depth = Math.floor(m[2].length / 2);
    vdevs.push({ name: m[3], state: parseHealth(m[4]), read: Number(m[5]), write: Number(m[6]), cksum: Number(m[7]), depth });
  }
  return { name, state: parseHealth(state), errors, vdevs };
}

/** `zpool import -d DIR` (the list of importable pools; empty when "no pools available"). */
export function parseImportScan(stdout: string): ImportablePool[] {
  const out: ImportablePool[] = [];
  const blocks = stdout.split(/^\s*pool:\s*/m).slice(1);
  for (const b of blocks) {
    const name = b.split('\n')[0].trim();
    const id = /^\s*id:\s*(\d+)/m.exec(b)?.[1] ?? '';
    const state = /^\s*state:\s*(\S+)/m.exec(b)?.[1] ?? 'UNKNOWN';
    const config = /config:\s*\n([\s\S]*)$/.exec(b)?.[1] ?? '';
    const devices = config
      .split('\n')
      .map((l) => /^\s+(\/\S+)\s+[A-Z]+/.exec(l)?.[1])
      .filter((d): d is string => !!d);
    out.push({ name, id, state: parseHealth(state), devices });
  }
  return out;
}

/** `zfs get -H -p -o name,property,value ...` → name → property → value */
export function parseZfsGet(stdout: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const r of rows(stdout)) {
    if (r.length < 3) continue;
    const rec = out.get(r[0]) ?? {};
    rec[r[1]] = r[2];
    out.set(r[0], rec);
  }
  return out;
}

const num = (v: string | undefined) => (v === undefined || v === '-' ? 0 : Number(v));

export function datasetsFromGet(stdout: string): DatasetInfo[] {
  const out: DatasetInfo[] = [];
  for (const [name, p] of parseZfsGet(stdout)) {
    if (p.type !== 'filesystem' && p.type !== 'volume') continue;
    out.push({
      name,
      type: p.type,
      mountpoint: p.mountpoint && p.mountpoint !== '-' && p.mountpoint !== 'none' ? p.mountpoint : null,
      usedBytes: num(p.used),
      availableBytes: num(p.available),
    });
  }
  return out;
}

/** Snapshots from `zfs get type,guid,creation,userrefs[,referenced]`; `onlyOf` keeps one dataset's own. */
export function snapshotsFromGet(stdout: string, onlyOf?: string): SnapshotInfo[] {
  const out: SnapshotInfo[] = [];
  for (const [name, p] of parseZfsGet(stdout)) {
    if (p.type !== 'snapshot') continue;
    const at = name.indexOf('@');
    const dataset = name.slice(0, at);
    if (onlyOf !== undefined && dataset !== onlyOf) continue;
    out.push({
      name,
      dataset,
      snapshot: name.slice(at + 1),
      guid: p.guid ?? '',
      createdAt: new Date(num(p.creation) * 1000).toISOString(),
      userrefs: num(p.userrefs),
      // what a full send of it carries, about: the estimate of a transfer's size
      ...(p.referenced !== undefined ? { referencedBytes: num(p.referenced) } : {}),
    });
  }
  return out.sort((a, b) => (a.createdAt === b.createdAt ? 0 : a.createdAt < b.createdAt ? -1 : 1));
}

/** One filesystem's part in a pool's role (see `zfs.getMountState`). */
export interface FilesystemMountState {
  name: string;
  canmount: 'on' | 'noauto' | 'off';
  mounted: boolean;
  /** Where it mounts; null for `none` and `legacy` (never mounted by ZFS). */
  mountpoint: string | null;
  /** The stored readonly value: what the filesystem is at its next mount. */
  readonly: boolean;
  /** Where the stored value comes from: `local` (set on it), `inherited` (from a parent), `default`, `received`. */
  readonlySource: string;
  /** Mounted with the mount option `ro` (the mount itself refuses writes, whatever the stored value says). */
  mountedReadOnly: boolean;
}

/**
 * `zfs get -H -p -r -o name,property,value,source type,canmount,mounted,mountpoint,readonly`:
 * the filesystems only, parents before children. While a filesystem is mounted with a read-only
 * option other than its stored value, ZFS shows the mount's option with source `temporary`
 * (zfs-fuse's mounts always say `rw`, so a filesystem mounted while readonly=on shows
 * `off temporary` — its writes fail all the same): the stored value is then the other one.
 */
export function parseMountState(stdout: string): FilesystemMountState[] {
  const props = new Map<string, Record<string, { value: string; source: string }>>();
  for (const r of rows(stdout)) {
    if (r.length < 4) continue;
    const rec = props.get(r[0]) ?? {};
    rec[r[1]] = { value: r[2], source: r[3].trim() };
    props.set(r[0], rec);
  }
  const out: FilesystemMountState[] = [];
  for (const [name, p] of props) {
    if (p.type?.value !== 'filesystem') continue;
    const canmount = p.canmount?.value;
    if (canmount !== 'on' && canmount !== 'noauto' && canmount !== 'off') throw new Error(`unexpected canmount "${String(canmount)}" of ${name}`);
    const mounted = p.mounted?.value === 'yes';
    const mp = p.mountpoint?.value ?? '';
    const shown = p.readonly?.value === 'on';
    const temporary = p.readonly?.source === 'temporary';
    const src = p.readonly?.source ?? '';
    out.push({
      name,
      canmount,
      mounted,
      mountpoint: mp.startsWith('/') ? mp : null,
      readonly: temporary ? !shown : shown,
      readonlySource: temporary ? 'temporary' : src.startsWith('inherited') ? 'inherited' : src,
      mountedReadOnly: mounted && shown,
    });
  }
  const depth = (n: string) => n.split('/').length;
  return out.sort((a, b) => depth(a.name) - depth(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
