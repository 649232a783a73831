import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leftOut, type MetaView } from './nats-cluster';

const all = ['node-a', 'node-b', 'node-c', 'witness'];
const view = (server: string, leader: string | null, routes = all.filter((n) => n !== server)): MetaView => ({ server, leader, routes });

test('a cluster that agrees and is fully routed leaves no server out', () => {
  assert.deepEqual(leftOut([view('node-a', 'node-b'), view('node-b', 'node-b'), view('node-c', 'node-b'), view('witness', 'node-b')], all), []);
});

test('a server without a leader, or with a leader of its own, is left out', () => {
  assert.deepEqual(leftOut([view('node-a', 'node-b'), view('node-b', 'node-b'), view('node-c', null), view('witness', 'witness')], all), ['node-c', 'witness']);
});

test('a server missing a route to one of the expected servers is left out even when it names the leader', () => {
  assert.deepEqual(leftOut([view('node-a', 'node-b', ['node-b', 'witness']), view('node-b', 'node-b'), view('node-c', 'node-b'), view('witness', 'node-b')], all), ['node-a']);
});

test('no leader anywhere: every server is left out', () => {
  assert.deepEqual(leftOut([view('node-a', null), view('node-b', null)], ['node-a', 'node-b']), ['node-a', 'node-b']);
});
