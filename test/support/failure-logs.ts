import { afterEach } from 'node:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SERVICES = ['nats', 'resource-manager', 'host-executor', 'replication-scheduler', 'heartbeat'];

/** A service's JSON log line as a person reads it (time, level, context, message, trace id); any other line as it is. */
export function readable(line: string): string {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof e !== 'object' || e === null || typeof e.msg !== 'string') return line;
  const extra = [e.stack, e.trace_id ? `trace ${String(e.trace_id)}` : undefined].filter(Boolean).join(' ');
  return `${String(e.time)} ${String(e.level).toUpperCase()} [${String(e.context ?? e.service)}] ${e.msg}${extra ? ` (${extra})` : ''}`;
}

/** Print the last `lines` lines of every node's service logs (and the witness's NATS log), headed by why. */
export function printNodeLogs(root: string | undefined, nodes: string[], why: string, lines = 40): void {
  if (!root) return;
  for (const node of [...nodes, 'witness']) {
    for (const service of SERVICES) {
      const file = join(root, 'nodes', node, 'logs', `${service}.log`);
      if (!existsSync(file)) continue;
      const tail = readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map(readable);
      console.log(`--- ${node} ${service} (last ${tail.length} lines; ${why}) ---\n${tail.join('\n')}`);
    }
  }
}

/**
 * When a test of this suite fails, print the end of every node's service logs: the testbed is
 * torn down afterwards, and on CI nothing else is left to read of what each node was doing.
 */
export function printNodeLogsOnFailure(root: () => string | undefined, nodes: string[]): void {
  afterEach((t) => {
    // `passed` is there at run time (Node 20), not yet in the typings
    if ((t as { passed?: boolean }).passed === false) printNodeLogs(root(), nodes, `"${t.name}" failed`);
  });
}

/** `setUp`, and the nodes' logs printed if it throws (a suite's `before`). */
export async function logsIfItFails<T>(root: () => string | undefined, nodes: string[], setUp: () => Promise<T>): Promise<T> {
  try {
    return await setUp();
  } catch (err) {
    printNodeLogs(root(), nodes, `setting up failed: ${(err as Error).message}`);
    throw err;
  }
}
