import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logTime, parsePeerPhases } from './pacemaker-peer';

// lines as the survivor (node-a) logged one failover on the testbed; node-b lost power at 00:28:44.288
const corosync = [
  'Dec 05 00:28:17.758 [11203] vm corosync notice  [TOTEM ] A new membership (1.9) was formed. Members joined: 2',
  'Dec 05 00:28:46.538 [11203] vm corosync notice  [TOTEM ] Token has not been received in 2250 ms ',
  'Dec 05 00:28:47.288 [11203] vm corosync notice  [TOTEM ] A processor failed, forming new configuration: token timed out (3000ms), waiting 3600ms for consensus.',
  'Dec 05 00:28:51.002 [11203] vm corosync notice  [TOTEM ] A new membership (1.d) was formed. Members left: 2',
  'Dec 05 00:29:10.118 [11203] vm corosync notice  [TOTEM ] A new membership (1.15) was formed. Members joined: 2',
].join('\n');
const pacemaker = [
  'Dec 05 00:28:20.414 vm pacemaker-controld  [11252] (do_lrm_rsc_op) \tnotice: Requesting local execution of start operation for p-benchfo-pool on node-a | transition_key=6:0:0:x',
  "Dec 05 00:28:53.378 vm pacemaker-fenced    [11248] (log_async_result) \tnotice: Operation 'off' [12798] targeting node-b using fence-testbed returned 0 | call 7 from pacemaker-controld.11252",
  'Dec 05 00:28:53.386 vm pacemaker-controld  [11252] (handle_fence_notification) \tnotice: Peer node-b was terminated (off) by node-a on behalf of pacemaker-controld.11252@node-a: OK | event=94817d3b',
  'Dec 05 00:28:53.414 vm pacemaker-controld  [11252] (do_lrm_rsc_op) \tnotice: Requesting local execution of start operation for p-benchfo-pool on node-a | transition_key=6:3:0:7950a9e7',
  'Dec 05 00:28:53.578 vm pacemaker-controld  [11252] (log_executor_event) \tnotice: Result of start operation for p-benchfo-pool on node-a: ok | CIB update 73, graph action confirmed; call=21',
  'Dec 05 00:28:53.906 vm pacemaker-controld  [11252] (log_executor_event) \tnotice: Result of start operation for p-benchfo-ip on node-a: ok | CIB update 77, graph action confirmed; call=23',
  'Dec 05 00:28:54.998 vm pacemaker-controld  [11252] (log_executor_event) \tnotice: Result of start operation for p-benchfo-smb on node-a: ok | CIB update 81, graph action confirmed; call=25',
].join('\n');

test('log time stamps: local time, milliseconds', () => {
  assert.equal(logTime('Dec 05 00:28:51.002 [11203] vm corosync notice', 2026), new Date(2026, 11, 5, 0, 28, 51, 2).getTime());
  assert.equal(logTime('no time here'), null);
});

test('a failover split into detection (new membership), fencing (the fencer’s OK) and the group’s start', () => {
  const faultAt = new Date(2026, 11, 5, 0, 28, 44, 288).getTime();
  const year = new Date().getFullYear();
  // the parser reads this year's dates: shift the fault into it
  const shift = new Date(year, 11, 5, 0, 28, 44, 288).getTime() - faultAt;
  assert.deepEqual(parsePeerPhases(corosync, pacemaker, 'benchfo', 'node-b', faultAt + shift), { detectionMs: 6714, fencingMs: 2376, startMs: 1620, importMs: 164 });
});

test('a phase not in the logs is null, never a guess', () => {
  const faultAt = new Date(new Date().getFullYear(), 11, 5, 0, 28, 44, 288).getTime();
  assert.deepEqual(parsePeerPhases(corosync, '', 'benchfo', 'node-b', faultAt), { detectionMs: 6714, fencingMs: null, startMs: null, importMs: null });
});
