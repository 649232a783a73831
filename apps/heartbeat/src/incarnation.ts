import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * This start's incarnation: a number that grows with every start of the heartbeat service on
 * this node, so peers accept its heartbeats from sequence 1 again while refusing replays of any
 * earlier life. The wall clock in ms, but never less than one more than the last one written
 * (a clock set back across a restart must not make the new life look older than the last).
 * Persisted in the node's state directory before it is used.
 */
export function nextIncarnation(file: string, wallNowMs: number = Date.now()): { incarnation: number; persisted: boolean; error?: string } {
  let previous = 0;
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    if (Number.isSafeInteger(n) && n > 0) previous = n;
  } catch {
    // first start on this node
  }
  const incarnation = Math.max(Math.floor(wallNowMs), previous + 1);
  try {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, `${incarnation}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    return { incarnation, persisted: true };
  } catch (err) {
    return { incarnation, persisted: false, error: (err as Error).message };
  }
}
