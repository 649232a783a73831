import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '@tandem/config';
import { readHeartbeatConfig } from './heartbeat.config';

const SECRET = 's3cret-s3cret-s3cret';
const base = { TANDEM_CLUSTER_SECRET: SECRET };

test('defaults: 0.1 s interval, 1.5 s timeout, udp 5405, client link cli0', () => {
  assert.deepEqual(readHeartbeatConfig(base), {
    clusterSecret: SECRET,
    intervalMs: 100,
    timeoutMs: 1_500,
    udpPort: 5405,
    clientInterface: 'cli0',
    localHealthIntervalMs: 2_000,
  });
  const c = readHeartbeatConfig({ ...base, TANDEM_HEARTBEAT_INTERVAL_MS: '200', TANDEM_HEARTBEAT_TIMEOUT_MS: '2500', TANDEM_HEARTBEAT_PORT: '6000', TANDEM_CLIENT_INTERFACE: 'bond0' });
  assert.equal(c.intervalMs, 200);
  assert.equal(c.timeoutMs, 2_500);
  assert.equal(c.udpPort, 6000);
  assert.equal(c.clientInterface, 'bond0');
});

test('a timeout that does not exceed two intervals is refused with one clear line', () => {
  for (const [interval, timeout] of [
    ['1500', '3000'],
    ['2000', '3500'],
    ['1500', '2999'],
  ]) {
    assert.throws(
      () => readHeartbeatConfig({ ...base, TANDEM_HEARTBEAT_INTERVAL_MS: interval, TANDEM_HEARTBEAT_TIMEOUT_MS: timeout }),
      (e: unknown) =>
        e instanceof ConfigError && e.message === `configuration: TANDEM_HEARTBEAT_TIMEOUT_MS is malformed: must exceed twice TANDEM_HEARTBEAT_INTERVAL_MS (${interval} ms), got ${timeout} ms`,
    );
  }
  assert.doesNotThrow(() => readHeartbeatConfig({ ...base, TANDEM_HEARTBEAT_INTERVAL_MS: '1500', TANDEM_HEARTBEAT_TIMEOUT_MS: '3001' }));
});

test('a timeout too short for the fencing invariant is refused at start (TANDEM_HEARTBEAT_TIMEOUT_MS=900)', () => {
  assert.throws(
    () => readHeartbeatConfig({ ...base, TANDEM_HEARTBEAT_INTERVAL_MS: '300', TANDEM_HEARTBEAT_TIMEOUT_MS: '900' }),
    (e: unknown) => e instanceof ConfigError && /^configuration: TANDEM_HEARTBEAT_TIMEOUT_MS is unsafe \(900 ms\): .*confirmation would never keep a node/.test(e.message),
  );
});

test('an interval so long that one late heartbeat would fence a node without the witness is refused', () => {
  // timeout 1050: a peer's confirmation keeps a node only for 1050 + 400 - 1100 - 250 = 100 ms
  assert.throws(
    () => readHeartbeatConfig({ ...base, TANDEM_HEARTBEAT_INTERVAL_MS: '500', TANDEM_HEARTBEAT_TIMEOUT_MS: '1050' }),
    (e: unknown) => e instanceof ConfigError && e.variable === 'TANDEM_HEARTBEAT_INTERVAL_MS' && /500 ms.*100 ms/.test(e.message),
  );
  assert.doesNotThrow(() => readHeartbeatConfig({ ...base, TANDEM_HEARTBEAT_INTERVAL_MS: '99', TANDEM_HEARTBEAT_TIMEOUT_MS: '1050' }));
});

test('missing or malformed values name the variable; the secret is never echoed', () => {
  assert.throws(() => readHeartbeatConfig({}), /^ConfigError: configuration: TANDEM_CLUSTER_SECRET is required/);
  assert.throws(() => readHeartbeatConfig({ ...base, TANDEM_HEARTBEAT_INTERVAL_MS: 'fast' }), /TANDEM_HEARTBEAT_INTERVAL_MS is malformed/);
  assert.throws(() => readHeartbeatConfig({ ...base, TANDEM_HEARTBEAT_PORT: '99999' }), /TANDEM_HEARTBEAT_PORT is malformed/);
  assert.throws(() => readHeartbeatConfig({ ...base, TANDEM_CLIENT_INTERFACE: 'cli0;reboot' }), /TANDEM_CLIENT_INTERFACE is malformed/);
  try {
    readHeartbeatConfig({ TANDEM_CLUSTER_SECRET: 'short-one' });
    assert.fail('should throw');
  } catch (e) {
    assert.match((e as Error).message, /TANDEM_CLUSTER_SECRET is malformed: must be at least 16 characters/);
    assert.ok(!(e as Error).message.includes('short-one'));
  }
});
