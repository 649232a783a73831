import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateFileError, readBaseConfig } from '@tandem/config';
import { ErrorCode, TandemError } from '@tandem/contracts';
import type { ServiceContext } from '@tandem/service-kit';
import { EpochGuard } from './epoch-guard.service';

/* The newest fencing epoch per pool, kept on disk: a restarted host-executor still refuses stale ones. */
const guard = (stateDir: string) => new EpochGuard({ config: readBaseConfig({ TANDEM_NODE_ID: 'node-a', TANDEM_NATS_URL: 'nats://127.0.0.1:4222', TANDEM_STATE_DIR: stateDir }) } as ServiceContext);

test('an older epoch is refused, also after a restart; a newer one is kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'epochs-'));
  const g = guard(dir);
  g.admit('tank', 4);
  assert.throws(
    () => g.admit('tank', 3),
    (err: unknown) => err instanceof TandemError && err.code === ErrorCode.StaleEpoch && err.field === 'epoch',
  );
  const restarted = guard(dir);
  assert.equal(restarted.newestFor('tank'), 4);
  assert.throws(
    () => restarted.admit('tank', 3),
    (err: unknown) => err instanceof TandemError && err.code === ErrorCode.StaleEpoch,
  );
  restarted.admit('tank', 5);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'fencing-epochs.json'), 'utf8')), { tank: 5 });
});

test('an epochs file that cannot be read stops the start instead of forgetting what to refuse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'epochs-'));
  writeFileSync(join(dir, 'fencing-epochs.json'), '{"tank": "four"}');
  assert.throws(
    () => guard(dir),
    (err: unknown) => err instanceof StateFileError && /the fencing epochs .* cannot be used \(tank: Expected number, received string\)/.test(err.message),
  );
});
