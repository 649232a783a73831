import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { raiseToRealtime, realtimePriority } from './bootstrap';
import { raiseAutogroup, sessionOf } from './priority';

/** What `chrt -p` says of a process: "SCHED_FIFO|SCHED_RESET_ON_FORK 10". */
function policyOf(pid: number): string {
  const out = execFileSync('chrt', ['--pid', String(pid)], { encoding: 'utf8' });
  const policy = /scheduling policy: (\S+)/.exec(out)?.[1];
  const prio = /scheduling priority: (\d+)/.exec(out)?.[1];
  return `${policy} ${prio}`;
}

test('TANDEM_RT_PRIORITY: 0 (off) by default, anything else outside 0-99 is refused naming the variable', () => {
  assert.equal(realtimePriority(undefined), 0);
  assert.equal(realtimePriority('0'), 0);
  assert.equal(realtimePriority('99'), 99);
  for (const bad of ['100', '-1', '1.5', 'high']) assert.throws(() => realtimePriority(bad), /TANDEM_RT_PRIORITY must be a whole number from 0 \(off\) to 99/);
});

test('a real process is raised to SCHED_FIFO with reset-on-fork (its children run at normal priority); 0 leaves it alone', async (t) => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const pid = child.pid!;
  assert.equal(policyOf(pid), 'SCHED_OTHER 0');
  assert.equal(await raiseToRealtime('test', '0', pid), false);
  assert.equal(policyOf(pid), 'SCHED_OTHER 0');
  assert.equal(await raiseToRealtime('test', '12', pid), true);
  assert.equal(policyOf(pid), 'SCHED_FIFO|SCHED_RESET_ON_FORK 12');
});

test('a process that cannot be raised (gone) keeps running the service: false, not a throw', async () => {
  const child = spawn('true', [], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  assert.equal(await raiseToRealtime('test', '10', child.pid!), false);
});

test('sessionOf reads the session id past a command name holding spaces and parentheses', () => {
  assert.equal(sessionOf('4242 (node (x) y) S 1 4242 4242 0 -1 4194560 1 0'), 4242);
  assert.equal(sessionOf('77 (sleep) S 70 71 72 0 -1'), 72);
  assert.throws(() => sessionOf('garbage'), /not a \/proc stat line/);
});

test("a session leader's autogroup gets its nice level; a process inside another's session leaves that session's alone", async (t) => {
  if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() !== '1') {
    // the kernel shares the CPU by nice level alone: nothing to raise, and raiseAutogroup says so
    assert.equal(raiseAutogroup(-15), 'no-autogroups');
    return;
  }
  // the outcome and the group as JSON: a process in the boot session's group (a CI runner started by
  // init) reads its autogroup file as empty, and a line joined with a space would not compare equal
  const script = `const { raiseAutogroup } = require(${JSON.stringify(join(__dirname, 'priority.js'))}); const outcome = raiseAutogroup(-12); console.log(JSON.stringify({ outcome, group: require('fs').readFileSync('/proc/self/autogroup', 'utf8').trim() })); setTimeout(() => {}, 60000);`;
  const run = (detached: boolean) =>
    new Promise<{ outcome: string; group: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { detached, stdio: ['ignore', 'pipe', 'inherit'] });
      t.after(() => child.kill('SIGKILL'));
      child.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as { outcome: string; group: string }));
      child.once('exit', (code) => reject(new Error(`exited ${code}`)));
    });
  const ownSession = await run(true);
  assert.equal(ownSession.outcome, 'raised');
  assert.match(ownSession.group, /^\/autogroup-\d+ nice -12$/);
  const mine = readFileSync('/proc/self/autogroup', 'utf8').trim();
  const inherited = await run(false);
  assert.deepEqual(inherited, { outcome: 'not-session-leader', group: mine }, "this test's own session is left as it was");
});
