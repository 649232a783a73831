import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, TandemError, type TestOnlyHostOperation } from '@tandem/contracts';
import { HOST_EXECUTOR_CONFIG, type HostExecutorConfig } from './host-executor.config';

/** The operations only tests and the demo need are answered only where TANDEM_ENABLE_TEST_OPS=1. */
@Injectable()
export class TestOpsGuard {
  constructor(@Inject(HOST_EXECUTOR_CONFIG) private readonly cfg: Pick<HostExecutorConfig, 'enableTestOps'>) {}

  require(op: TestOnlyHostOperation): void {
    if (this.cfg.enableTestOps) return;
    throw new TandemError(
      ErrorCode.Forbidden,
      `${op} is an operation for tests and the demo only, off on this node: make pools and datasets with zpool and zfs on the node, then attach them (set TANDEM_ENABLE_TEST_OPS=1 only on a test cluster)`,
      'operation',
    );
  }
}
