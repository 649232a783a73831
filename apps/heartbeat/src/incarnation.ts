import { readStateFile, writeStateFile } from '@tandem/config';

/**
 * This start's incarnation: a number that grows with every start of the heartbeat service on
 * this node, so peers accept its heartbeats from sequence 1 again while refusing replays of any
 * earlier life. The wall clock in ms, but never less than one more than the last one written
 * (a clock set back across a restart must not make the new life look older than the last).
 * Persisted in the node's state directory before it is used.
 */
export function nextIncarnation(file: string, wallNowMs: number = Date.now()): { incarnation: number; persisted: boolean; error?: string } {
  // absent on a first start; there but unreadable, the service stops (a clock set back could otherwise revive an earlier life)
  const previous =
    readStateFile(file, {
      what: "the heartbeat's incarnation",
      ifRemoved: 'the next start counts from the wall clock, which must not have been set back since the last start',
      parse: (text) => {
        const n = Number(text.trim());
        if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`"${text.trim().slice(0, 40)}" is not a positive integer`);
        return n;
      },
    }) ?? 0;
  const incarnation = Math.max(Math.floor(wallNowMs), previous + 1);
  try {
    writeStateFile(file, `${incarnation}\n`);
    return { incarnation, persisted: true };
  } catch (err) {
    return { incarnation, persisted: false, error: (err as Error).message };
  }
}
