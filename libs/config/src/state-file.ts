import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { ZodError } from 'zod';
import { describeZodError } from '@tandem/contracts';

/**
 * A node's state file (fencing epochs, held pools, the heartbeat incarnation, keys) that is there
 * but cannot be used. A service meeting one stops instead of starting as if the node had never
 * run: forgetting the epochs it refused, or the pools it must fence, would be unsafe.
 */
export class StateFileError extends Error {
  constructor(
    readonly file: string,
    readonly why: string,
    what: string,
    ifRemoved: string,
  ) {
    super(`${what} ${file} cannot be used (${why}): stopping rather than start as if this node had never run. ` + `Restore the file from a backup, or remove it to start afresh — ${ifRemoved}`);
    this.name = 'StateFileError';
  }
}

export interface StateFileSpec<T> {
  /** What the file is, for the message ("the fencing epochs"). */
  what: string;
  /** What removing it costs, for the message. */
  ifRemoved: string;
  /** The file's text to its value; throws (with the reason) when it is not one. */
  parse: (text: string) => T;
}

/** The value kept in `file`, or null when there is none yet (a first start). A file that is there but does not parse throws StateFileError. */
export function readStateFile<T>(file: string, spec: StateFileSpec<T>): T | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    // not there (nor could it be: a path through something that is not a directory)
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new StateFileError(file, (err as Error).message, spec.what, spec.ifRemoved);
  }
  try {
    return spec.parse(text);
  } catch (err) {
    throw new StateFileError(file, text.trim() === '' ? 'it is empty' : (err as Error).message, spec.what, spec.ifRemoved);
  }
}

/**
 * Replace `file` with `text`, whole or not at all, and durably: written to a temporary file,
 * synced, renamed over the old one, and the directory synced so that the rename survives a
 * power cut too.
 */
export function writeStateFile(file: string, text: string, mode = 0o644): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic.sync(file, text, { fsync: true, mode });
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** JSON text parsed with `schema` (anything with zod's `parse`): the parse step of a StateFileSpec. */
export function jsonWith<T>(schema: { parse: (v: unknown) => T }): (text: string) => T {
  return (text) => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error('it is not JSON');
    }
    try {
      return schema.parse(json);
    } catch (err) {
      throw new Error(err instanceof ZodError ? describeZodError(err).message : (err as Error).message);
    }
  };
}
