import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import type { Testbed } from '@tandem/testbed';

/** A Tandem service of a testbed node crashes: its one process SIGKILLed (`app`: host-executor, resource-manager, …). */
export async function killService(node: string, app: string): Promise<void> {
  const pids = (await execa('ip', ['netns', 'pids', `tb-${node}`])).stdout.split('\n').filter(Boolean);
  let n = 0;
  for (const pid of pids) {
    if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).includes(`apps/${app}/src/main.js`)) {
      process.kill(Number(pid), 'SIGKILL');
      n++;
    }
  }
  assert.equal(n, 1, `one ${app} killed on ${node}`);
}

/**
 * An instant that a snapshot taken from now on is recorded at or after: now rounded up to the whole
 * second, since ZFS records a snapshot's creation in whole seconds (rounded down). Taken after a
 * write has finished, a snapshot recorded at or after it holds the write; taken before the write, a
 * snapshot made while the write was still running would count.
 */
export function sinceNow(): number {
  return Math.ceil(Date.now() / 1000) * 1000;
}

/** A file of `bytes` random bytes written by the client through `//vip/share` as `name`; its sha256, to compare later. */
export async function writeThroughShare(tb: Testbed, vip: string, share: string, name: string, bytes: number): Promise<string> {
  await tb.client(['sh', '-c', `head -c ${bytes} /dev/urandom > /tmp/${name}`]);
  const sum = (await tb.client(['sha256sum', `/tmp/${name}`])).stdout.split(' ')[0];
  const put = await tb.client(['smbclient', '-N', `//${vip}/${share}`, '-c', `put /tmp/${name} ${name}`]);
  assert.equal(put.exitCode, 0, `writing ${name} through ${vip}: ${put.stdout}${put.stderr}`);
  return sum;
}
