import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** What `raiseAutogroup` did: raised, or why it had nothing to raise. */
export type AutogroupOutcome = 'raised' | 'no-autogroups' | 'not-session-leader';

/** The session id in a `/proc/<pid>/stat` line (the sixth field; the second, the command, may hold spaces and parentheses). */
export function sessionOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const sid = Number(fields[3]);
  if (!Number.isInteger(sid)) throw new Error(`not a /proc stat line: ${stat.slice(0, 80)}`);
  return sid;
}

/**
 * Give this process's autogroup the nice level `nice`. On a kernel with autogroups (the default on
 * most distributions: /proc/sys/kernel/sched_autogroup_enabled) the scheduler first shares the CPU
 * fairly between sessions, and a process's own nice level counts only against the processes of its
 * own session: a daemon at nice −15 in a session of its own gets no more of a busy machine than
 * any other session. The group's nice level is what counts between them. Only a session leader
 * changes it (the group would otherwise be whoever started the process, a terminal and all); in a
 * container (its own cgroup, where autogroups do not apply) the container's CPU weight counts
 * instead (compose: `cpu_shares`).
 */
export function raiseAutogroup(nice: number, proc = '/proc'): AutogroupOutcome {
  if (!existsSync(`${proc}/self/autogroup`) || readFileSync(`${proc}/sys/kernel/sched_autogroup_enabled`, 'utf8').trim() !== '1') return 'no-autogroups';
  if (sessionOf(readFileSync(`${proc}/self/stat`, 'utf8')) !== process.pid) return 'not-session-leader';
  writeFileSync(`${proc}/self/autogroup`, String(nice));
  return 'raised';
}
