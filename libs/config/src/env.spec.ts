import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './env';
import { readFailoverConfig } from './failover-config';
import { readBaseConfig, readDatabaseConfig } from './service-config';

const base = { TANDEM_NODE_ID: 'node-a', TANDEM_NATS_URL: 'nats://127.0.0.1:4222' };

test('a complete environment is read with defaults', () => {
  const c = readBaseConfig(base);
  assert.equal(c.nodeId, 'node-a');
  assert.equal(c.clusterId, 'tandem');
  assert.equal(c.stateDir, '/var/lib/tandem');
  assert.equal(c.logLevel, 'log');
  assert.equal(c.healthBind, undefined, 'every address unless TANDEM_HEALTH_BIND says otherwise');
  assert.deepEqual(readBaseConfig({ ...base, TANDEM_HEALTH_BIND: '127.0.0.1, 10.77.2.11' }).healthBind, ['127.0.0.1', '10.77.2.11']);
  assert.deepEqual(readBaseConfig({ ...base, TANDEM_HEALTH_BIND: '127.0.0.1,127.0.0.1' }).healthBind, ['127.0.0.1'], 'listened on once');
});

test('a missing or malformed value names the variable and what it expects', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ TANDEM_NATS_URL: 'nats://x:1' }, /^configuration: TANDEM_NODE_ID is required/],
    [{ ...base, TANDEM_NODE_ID: 'Node A' }, /TANDEM_NODE_ID is malformed/],
    [{ ...base, TANDEM_NATS_URL: 'http://x' }, /TANDEM_NATS_URL is malformed: must be nats:\/\//],
    [{ ...base, TANDEM_HEALTH_PORT: '70000' }, /TANDEM_HEALTH_PORT is malformed/],
    [{ ...base, TANDEM_HEALTH_BIND: '0.0.0.0;rm -rf /' }, /TANDEM_HEALTH_BIND is malformed/],
    [{ ...base, TANDEM_STATE_DIR: 'relative' }, /TANDEM_STATE_DIR is malformed: must be an absolute path/],
  ];
  for (const [envv, re] of cases) {
    assert.throws(
      () => readBaseConfig(envv),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      JSON.stringify(envv),
    );
  }
  assert.throws(() => readDatabaseConfig({ TANDEM_DATABASE_URL: 'mysql://x' }), /TANDEM_DATABASE_URL is malformed/);
});

test('secrets are never echoed in the error', () => {
  try {
    readDatabaseConfig({ TANDEM_DATABASE_URL: 'postgres:// user:s3cret@host' });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(!(e as Error).message.includes('s3cret'));
  }
});

test('a heartbeat timeout that would break the fencing invariant is refused at start, saying why', () => {
  assert.deepEqual(readFailoverConfig({}).heartbeatTimeoutMs, 1_500);
  assert.equal(readFailoverConfig({ TANDEM_HEARTBEAT_TIMEOUT_MS: '5000' }).heartbeatTimeoutMs, 5_000);
  for (const unsafe of ['950', '800', '600']) {
    assert.throws(
      () => readFailoverConfig({ TANDEM_HEARTBEAT_TIMEOUT_MS: unsafe }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'TANDEM_HEARTBEAT_TIMEOUT_MS' && /is unsafe .*never keep a node/.test(e.message),
      unsafe,
    );
  }
  // the smallest safe timeout: a peer's confirmation window must stay open
  assert.doesNotThrow(() => readFailoverConfig({ TANDEM_HEARTBEAT_TIMEOUT_MS: '951' }));
});

test('a value can come from the file named by <NAME>_FILE (its trailing line break dropped); both set, or a file that cannot be read, is an error naming the variable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-env-'));
  try {
    const file = join(dir, 'node-id');
    writeFileSync(file, 'node-b\n');
    assert.equal(readBaseConfig({ TANDEM_NATS_URL: base.TANDEM_NATS_URL, TANDEM_NODE_ID_FILE: file }).nodeId, 'node-b');
    assert.equal(readBaseConfig({ ...base, TANDEM_NODE_ID_FILE: '' }).nodeId, 'node-a', 'an empty _FILE is not set');
    assert.throws(
      () => readBaseConfig({ ...base, TANDEM_NODE_ID_FILE: file }),
      (e: unknown) => e instanceof ConfigError && /^configuration: TANDEM_NODE_ID is given twice: set TANDEM_NODE_ID or TANDEM_NODE_ID_FILE, not both$/.test(e.message),
    );
    assert.throws(
      () => readBaseConfig({ TANDEM_NATS_URL: base.TANDEM_NATS_URL, TANDEM_NODE_ID_FILE: join(dir, 'missing') }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'TANDEM_NODE_ID_FILE' && /cannot be read \(ENOENT\)/.test(e.message),
    );
    // what the file holds is checked like the variable itself
    writeFileSync(file, 'Node B\n');
    assert.throws(() => readBaseConfig({ TANDEM_NATS_URL: base.TANDEM_NATS_URL, TANDEM_NODE_ID_FILE: file }), /TANDEM_NODE_ID is malformed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
