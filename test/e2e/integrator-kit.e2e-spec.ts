import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { NatsConnection } from 'nats';
import { Events } from '@tandem/contracts';
import { EventPublisher } from '@tandem/messaging';
import { INTEGRATOR_IDENTITY, Testbed, natsSeedFile, observerConnection, testbedNatsCaFile, type TestbedStatus } from '@tandem/testbed';
import { waitFor } from '@tandem/util';
import { printNodeLogsOnFailure } from '../support/failure-logs';

const ROOT = resolve(__dirname, '..', '..', '..');

/**
 * The integrators' example as an integrator runs it: examples/follow-failovers, started with the
 * testbed's integrator identity (read-only: its own NATS permissions), its seed file and the
 * cluster's CA, prints a failover published before it started (replayed from the events stream)
 * and one published while it runs (live). The failovers are well-formed envelopes published by
 * the observer, as the resource-manager would; no pool moves.
 */
describe('integrators: the failover-following example against the testbed', () => {
  const tb = new Testbed({ log: (l) => process.stderr.write(`${l}\n`) });
  let status: TestbedStatus;
  let observer: NatsConnection;
  let child: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  printNodeLogsOnFailure(() => tb.root, ['node-a', 'node-b']);

  before(async () => {
    status = await tb.up({ nodes: 2 });
    observer = await observerConnection(status);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await observer?.close().catch(() => undefined);
    await tb.down();
  });

  /** Waits for a line on the example's output; on a timeout, says what it printed. */
  const printed = async (line: RegExp, what: string) => {
    try {
      await waitFor(() => line.test(stdout), { timeoutMs: 30_000, intervalMs: 200, what });
    } catch (err) {
      throw new Error(`${(err as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    }
  };
  const timings = { detectionMs: 2_500, fenceWaitMs: 1_000, releaseMs: 0, importMs: 700, ipsMs: 150, sharesMs: 90, totalMs: 4_440 };

  test('replays the last day of failovers, then follows new ones, as the integrator', async () => {
    const events = new EventPublisher(observer, 'tandem', 'integrator-kit-test@observer');
    const pool = `kit${Date.now().toString(36)}`;
    await events.publish(Events.poolFailedOver, pool, { from: 'node-a', to: 'node-b', reason: 'node-down', epoch: 41, timings, traceId: null });
    // not a failover: never printed
    await events.publish(Events.poolRemoved, pool, { pool });

    const servers = status.nodes.filter((n) => n.role === 'storage').map((n) => n.nats!);
    const args = ['--servers', servers.join(','), '--seed', natsSeedFile(status.root, INTEGRATOR_IDENTITY), '--ca', testbedNatsCaFile(status.root)];
    child = spawn(process.execPath, ['-r', './tools/register.js', 'dist/examples/follow-failovers.js', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));

    await printed(new RegExp(`  ${pool}  failed over node-a -> node-b  \\(node-down, 4\\.44 s, epoch 41\\)`), 'the failover published before the example started, replayed');

    await events.publish(Events.poolFailoverFailed, pool, { from: 'node-b', reason: 'no node can run it' });
    await events.publish(Events.poolFailedOver, pool, { from: 'node-b', to: 'node-a', reason: 'client-link-down', epoch: 42, timings, traceId: null });
    await printed(
      new RegExp(`  ${pool}  failover FAILED from node-b: no node can run it\\n.*  ${pool}  failed over node-b -> node-a  \\(client-link-down`),
      'the failovers published while it runs, live, in order',
    );

    const ours = stdout.split('\n').filter((l) => l.includes(`  ${pool}  `));
    assert.equal(ours.length, 3, `one line per failover, the removal left out:\n${ours.join('\n')}`);
    assert.doesNotMatch(stderr, /permission|violation|not a failover/i, 'nothing refused by the integrator permissions, nothing unreadable');
    assert.equal(child.exitCode, null, 'still following');

    child.kill('SIGTERM');
    const code = await new Promise((r) => child!.once('exit', (c) => r(c)));
    assert.equal(code, 0, 'stops cleanly on SIGTERM');
  });
});
