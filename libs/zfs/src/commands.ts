import { datasetNameSchema, holdTagSchema, poolNameSchema, safePathSchema, snapshotNameSchema, snapshotShortNameSchema } from '@tandem/contracts';

/**
 * Command builders: argv arrays for zpool/zfs, every name validated here a second time so that
 * no caller can build a command from an unchecked string. Pools are never put in a cache file
 * (cachefile=none): a rebooted node must not import anything by itself.
 */
const pool = (v: string) => poolNameSchema.parse(v);
const ds = (v: string) => datasetNameSchema.parse(v);
const snap = (v: string) => snapshotNameSchema.parse(v);
const dir = (v: string) => safePathSchema.parse(v);

export const POOL_LIST_FIELDS = ['name', 'size', 'allocated', 'free', 'health', 'guid'] as const;

export const zpool = {
  list: () => ['zpool', 'list', '-H', '-o', POOL_LIST_FIELDS.join(',')],
  status: (p: string) => ['zpool', 'status', pool(p)],
  /** Only the pools with problems ("all pools are healthy" otherwise). */
  statusUnhealthy: () => ['zpool', 'status', '-x'],
  scanImportable: (deviceDir: string) => ['zpool', 'import', '-d', dir(deviceDir)],
  import: (p: string, deviceDir: string, force: boolean) => ['zpool', 'import', '-d', dir(deviceDir), '-o', 'cachefile=none', ...(force ? ['-f'] : []), pool(p)],
  export: (p: string, force: boolean) => ['zpool', 'export', ...(force ? ['-f'] : []), pool(p)],
  create: (p: string, vdevPaths: string[], mountpoint?: string) => ['zpool', 'create', '-o', 'cachefile=none', ...(mountpoint ? ['-m', dir(mountpoint)] : []), pool(p), ...vdevPaths.map(dir)],
  destroy: (p: string, force: boolean) => ['zpool', 'destroy', ...(force ? ['-f'] : []), pool(p)],
};

export const zfs = {
  /** Dataset properties, parsable, recursive: filesystems, volumes and snapshots below `root`. */
  getDatasets: (root: string) => ['zfs', 'get', '-H', '-p', '-r', '-o', 'name,property,value', 'type,mountpoint,used,available', ds(root)],
  getSnapshots: (root: string) => ['zfs', 'get', '-H', '-p', '-r', '-o', 'name,property,value', 'type,guid,creation,userrefs', ds(root)],
  getSnapshot: (s: string) => ['zfs', 'get', '-H', '-p', '-o', 'name,property,value', 'type,guid,creation,userrefs', snap(s)],
  create: (d: string) => ['zfs', 'create', ds(d)],
  snapshot: (d: string, name: string, recursive: boolean) => ['zfs', 'snapshot', ...(recursive ? ['-r'] : []), `${ds(d)}@${snapshotShortNameSchema.parse(name)}`],
  destroySnapshot: (s: string) => ['zfs', 'destroy', snap(s)],
  hold: (s: string, tag: string) => ['zfs', 'hold', holdTagSchema.parse(tag), snap(s)],
  release: (s: string, tag: string) => ['zfs', 'release', holdTagSchema.parse(tag), snap(s)],
  send: (s: string, base?: string) => ['zfs', 'send', ...(base ? ['-i', snap(base)] : []), snap(s)],
  /**
   * The disk probe: a user property written on the pool's root dataset. Committing it writes
   * to every vdev, so a pool whose disks stopped answering is found suspended even while no
   * client uses it.
   */
  probe: (p: string, stamp: number) => ['zfs', 'set', `tandem:probe=${Math.trunc(stamp)}`, pool(p)],
  /** Received replicas stay unmounted (-u): a passive copy is not served. */
  receive: (d: string, force: boolean) => ['zfs', 'receive', '-u', ...(force ? ['-F'] : []), ds(d)],
};
