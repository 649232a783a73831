import { readFile } from 'node:fs/promises';

/** One line of /proc/<pid>/mountinfo (see proc(5)): the fields Tandem reads. */
export interface MountEntry {
  mountId: number;
  parentId: number;
  /** Where it is mounted, octal escapes (spaces, tabs, newlines, backslashes) decoded. */
  mountPoint: string;
  /** The filesystem type: `zfs` (OpenZFS), `fuse.zfs` (zfs-fuse), `tmpfs`, ... */
  fsType: string;
  /** The mount source: for ZFS, the dataset's name. */
  source: string;
}

const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

/**
 * Parses a mountinfo table. Fields: id parent major:minor root mountpoint options [optional
 * fields...] - fstype source super-options. A line that does not have that shape is skipped
 * (the kernel writes none; a truncated last line may be read mid-change).
 */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 7 || sep < 0 || sep + 2 >= fields.length) continue;
    const mountId = Number(fields[0]);
    const parentId = Number(fields[1]);
    if (!Number.isInteger(mountId) || !Number.isInteger(parentId)) continue;
    entries.push({ mountId, parentId, mountPoint: unescape(fields[4]!), fsType: fields[sep + 1]!, source: unescape(fields[sep + 2]!) });
  }
  return entries;
}

/** This process's mount table (its mount namespace's), read from the kernel: no command run. */
export async function readMountTable(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The mount points of a pool's filesystems in a mount table: ZFS mounts whose source is the pool or one of its datasets. */
export function poolMountPoints(table: MountEntry[], pool: string): string[] {
  return table.filter((m) => (m.fsType === 'zfs' || m.fsType === 'fuse.zfs') && (m.source === pool || m.source.startsWith(`${pool}/`))).map((m) => m.mountPoint);
}
