import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TEST_ONLY_HOST_OPERATIONS, TandemError } from '@tandem/contracts';
import { readHostExecutorConfig } from './host-executor.config';
import { TestOpsGuard } from './test-ops.guard';

/* The operations only tests need: off unless the node is set up for tests. */
test('off by default: each test-only operation is FORBIDDEN, naming it and what to do instead', () => {
  const cfg = readHostExecutorConfig({});
  assert.equal(cfg.enableTestOps, false);
  const guard = new TestOpsGuard(cfg);
  for (const op of TEST_ONLY_HOST_OPERATIONS) {
    assert.throws(
      () => guard.require(op),
      (err: unknown) =>
        err instanceof TandemError &&
        err.code === ErrorCode.Forbidden &&
        err.field === 'operation' &&
        err.message.startsWith(`${op} is an operation for tests`) &&
        /zpool and zfs on the node/.test(err.message),
    );
  }
  assert.deepEqual([...TEST_ONLY_HOST_OPERATIONS].sort(), ['dataset.create', 'pool.create', 'pool.destroy', 'stream.receive', 'stream.send']);
});

test('TANDEM_ENABLE_TEST_OPS=1 turns them on; any other value than 0 or 1 is refused at start', () => {
  const guard = new TestOpsGuard(readHostExecutorConfig({ TANDEM_ENABLE_TEST_OPS: '1' }));
  for (const op of TEST_ONLY_HOST_OPERATIONS) guard.require(op);
  assert.equal(readHostExecutorConfig({ TANDEM_ENABLE_TEST_OPS: '0' }).enableTestOps, false);
  assert.throws(() => readHostExecutorConfig({ TANDEM_ENABLE_TEST_OPS: 'yes' }), /TANDEM_ENABLE_TEST_OPS/);
});

test('SMB guests act as nobody unless TANDEM_SMB_GUEST_USER names another account; root is refused at start', () => {
  assert.equal(readHostExecutorConfig({}).smbGuestUser, 'nobody');
  assert.equal(readHostExecutorConfig({ TANDEM_SMB_GUEST_USER: 'smbguest' }).smbGuestUser, 'smbguest');
  assert.throws(() => readHostExecutorConfig({ TANDEM_SMB_GUEST_USER: 'root' }), /TANDEM_SMB_GUEST_USER.*must not be root/);
  assert.throws(() => readHostExecutorConfig({ TANDEM_SMB_GUEST_USER: 'a b' }), /TANDEM_SMB_GUEST_USER/);
});
