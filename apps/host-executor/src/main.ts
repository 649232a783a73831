import { hostOpRequests, execWildcard, operationOf } from '@tandem/contracts';
import { runService } from '@tandem/service-kit';
import { Metrics } from '@tandem/telemetry';
import { HostExecutorModule } from './app.module';
import { readHostExecutorConfig } from './host-executor.config';

runService({
  service: 'host-executor',
  timingCritical: true,
  // the first service of a node to start: it declares the streams and buckets every other one uses
  declaresJetStream: true,
  readConfig: readHostExecutorConfig,
  module: (ctx) => HostExecutorModule.register(ctx, readHostExecutorConfig()),
  rpc: (ctx) => ({
    routes: [{ subject: execWildcard(ctx.config.nodeId), patternOf: (s) => operationOf(s, ctx.config.nodeId) }],
    schemas: hostOpRequests,
    observe: (operation, seconds, errorCode) => {
      Metrics.hostOperationSeconds().observe({ operation }, seconds);
      if (errorCode !== null) Metrics.hostOperationErrors().inc({ operation, code: errorCode });
    },
  }),
});
