import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { POOL_NAME_RE } from './validate';

/**
 * The files a share or target manager keeps under its state directory: one folder per pool,
 * each with a versioned JSON state file. Shared by the SMB/NFS share manager and the iSCSI target
 * manager, so both read, list and replace their state the same way.
 */

/** The pools that have a folder under `root` (names that are not pool names are ignored), sorted. */
export async function poolDirs(root: string): Promise<string[]> {
  try {
    return (await readdir(root, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && POOL_NAME_RE.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** A state file's content, or undefined when there is none; a file of another version is an error naming it. */
export async function readStateFile<T extends { version: number }>(file: string, version: number): Promise<T | undefined> {
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(raw) as T;
  if (parsed.version !== version) throw new Error(`${file}: unknown state version ${parsed.version} (this build reads version ${version})`);
  return parsed;
}

/** Replaces `path` at once (a temporary file renamed over it): a reader sees the old or the new content. */
export async function writeAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, path);
}
