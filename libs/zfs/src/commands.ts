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
const dirArgs = (dirs: string | readonly string[]) => {
  const list = typeof dirs === 'string' ? [dirs] : [...new Set(dirs)];
  if (list.length === 0) throw new Error('at least one device directory is needed');
  return list.flatMap((d) => ['-d', dir(d)]);
};
/** `zpool import` from these directories, never into a cache file, forced or not, mounts read-only or not. */
const importFrom = (dirs: string | readonly string[], force: boolean, readOnlyMounts: boolean) => [
  'zpool',
  'import',
  ...dirArgs(dirs),
  '-o',
  'cachefile=none',
  ...(readOnlyMounts ? ['-o', 'ro'] : []),
  ...(force ? ['-f'] : []),
];
const oneOf = <T extends string>(v: T, allowed: readonly T[], what: string): T => {
  if (!allowed.includes(v)) throw new Error(`${what} must be one of ${allowed.join(', ')} (got ${String(v)})`);
  return v;
};

/** What `canmount` can be: mounted by import and `zfs mount -a` (on), only when asked (noauto), never (off). */
export const CANMOUNT_VALUES = ['on', 'noauto', 'off'] as const;
export type Canmount = (typeof CANMOUNT_VALUES)[number];

export const POOL_LIST_FIELDS = ['name', 'size', 'allocated', 'free', 'health', 'guid'] as const;

export const zpool = {
  list: () => ['zpool', 'list', '-H', '-o', POOL_LIST_FIELDS.join(',')],
  status: (p: string) => ['zpool', 'status', pool(p)],
  /** Only the pools with problems ("all pools are healthy" otherwise). */
  statusUnhealthy: () => ['zpool', 'status', '-x'],
  /** The pools importable from one or several device directories (one `-d` each). */
  scanImportable: (deviceDirs: string | readonly string[]) => ['zpool', 'import', ...dirArgs(deviceDirs)],
  /**
   * `readOnlyMounts`: whatever the import mounts is mounted read-only (`-o ro`, a mount option;
   * zfs-fuse has no `-N`): a replica or retrieval copy is never writable, not even for a moment.
   */
  import: (p: string, deviceDirs: string | readonly string[], force: boolean, readOnlyMounts = false) => [...importFrom(deviceDirs, force, readOnlyMounts), pool(p)],
  /**
   * Every pool importable from `deviceDirs` (`-a`), in one command: for directories of links to
   * exactly the disks of the pools meant, checked first with `scanImportable` (the caller's duty:
   * `-a` imports whatever pool it finds there).
   */
  importAll: (deviceDirs: readonly string[], force: boolean, readOnlyMounts = false) => [...importFrom(deviceDirs, force, readOnlyMounts), '-a'],
  export: (p: string, force: boolean) => ['zpool', 'export', ...(force ? ['-f'] : []), pool(p)],
  create: (p: string, vdevPaths: string[], mountpoint?: string) => ['zpool', 'create', '-o', 'cachefile=none', ...(mountpoint ? ['-m', dir(mountpoint)] : []), pool(p), ...vdevPaths.map(dir)],
  destroy: (p: string, force: boolean) => ['zpool', 'destroy', ...(force ? ['-f'] : []), pool(p)],
};

export const zfs = {
  /** Dataset properties, parsable, recursive: filesystems, volumes and snapshots below `root`. */
  getDatasets: (root: string) => ['zfs', 'get', '-H', '-p', '-r', '-o', 'name,property,value', 'type,mountpoint,used,available', ds(root)],
  getSnapshots: (root: string) => ['zfs', 'get', '-H', '-p', '-r', '-o', 'name,property,value', 'type,guid,creation,userrefs,referenced', ds(root)],
  getSnapshot: (s: string) => ['zfs', 'get', '-H', '-p', '-o', 'name,property,value', 'type,guid,creation,userrefs,referenced', snap(s)],
  create: (d: string) => ['zfs', 'create', ds(d)],
  snapshot: (d: string, name: string, recursive: boolean) => ['zfs', 'snapshot', ...(recursive ? ['-r'] : []), `${ds(d)}@${snapshotShortNameSchema.parse(name)}`],
  destroySnapshot: (s: string) => ['zfs', 'destroy', snap(s)],
  hold: (s: string, tag: string) => ['zfs', 'hold', holdTagSchema.parse(tag), snap(s)],
  release: (s: string, tag: string) => ['zfs', 'release', holdTagSchema.parse(tag), snap(s)],
  send: (s: string, base?: string) => ['zfs', 'send', ...(base ? ['-i', snap(base)] : []), snap(s)],
  /** Incremental from `base` to `s` with every snapshot in between (`-I`): a replica gets them all. */
  sendIncremental: (s: string, base: string) => ['zfs', 'send', '-I', snap(base), snap(s)],
  /**
   * The disk probe: a user property written on the pool's root dataset. Committing it writes
   * to every vdev, so a pool whose disks stopped answering is found suspended even while no
   * client uses it.
   */
  probe: (p: string, stamp: number) => ['zfs', 'set', `tandem:probe=${Math.trunc(stamp)}`, pool(p)],
  /** Received replicas stay unmounted (-u): a passive copy is not served. */
  receive: (d: string, force: boolean) => ['zfs', 'receive', '-u', ...(force ? ['-F'] : []), ds(d)],
  /**
   * What a pool's role is made of, for every dataset below `root`: type, canmount, mounted,
   * mountpoint and readonly, each with its source (a `temporary` readonly is the mount's own
   * option overriding the stored value).
   */
  /** Of one or several pools (or datasets) and everything below each, in one command. */
  getMountState: (...roots: [string, ...string[]]) => ['zfs', 'get', '-H', '-p', '-r', '-o', 'name,property,value,source', 'type,canmount,mounted,mountpoint,readonly', ...roots.map(ds)],
  /** canmount is not inherited (on this ZFS version): set it on each filesystem. */
  setCanmount: (d: string, value: Canmount) => ['zfs', 'set', `canmount=${oneOf(value, CANMOUNT_VALUES, 'canmount')}`, ds(d)],
  /** readonly is inherited: set on a pool's root dataset it covers every dataset below that does not set its own. */
  setReadonly: (d: string, value: 'on' | 'off') => ['zfs', 'set', `readonly=${oneOf(value, ['on', 'off'], 'readonly')}`, ds(d)],
  /** Drop a dataset's own readonly: it takes its parent's (off at the root). */
  inheritReadonly: (d: string) => ['zfs', 'inherit', 'readonly', ds(d)],
  mount: (d: string) => ['zfs', 'mount', ds(d)],
  unmount: (d: string) => ['zfs', 'unmount', ds(d)],
  /** Back to snapshot `s`, destroying the snapshots after it (-r): a replica returns to the common base before it receives. */
  rollback: (s: string) => ['zfs', 'rollback', '-r', snap(s)],
  /** A dataset that is never mounted itself and whose children inherit that (where kept-aside copies live). */
  createUnmounted: (d: string) => ['zfs', 'create', '-o', 'mountpoint=none', ds(d)],
  /** The snapshot of this name on `s`'s dataset and on every dataset below it. */
  destroySnapshotRecursive: (s: string) => ['zfs', 'destroy', '-r', snap(s)],
};
