import { RESOURCE_MANAGER_WILDCARD, resourceManagerOperationOf, rmOpRequests } from '@tandem/contracts';
import { LeadershipService, runService } from '@tandem/service-kit';
import { ResourceManagerModule } from './app.module';
import { readResourceManagerConfig } from './resource-manager.config';

runService({
  service: 'resource-manager',
  readConfig: readResourceManagerConfig,
  module: (ctx) => ResourceManagerModule.register(ctx, readResourceManagerConfig()),
  // the operations are answered by the lease holder alone; the queue group makes sure that even
  // while a lease changes hands (two instances briefly subscribed) a request is carried out once
  rpc: (_ctx, app) => ({
    routes: [{ subject: RESOURCE_MANAGER_WILDCARD, patternOf: resourceManagerOperationOf, activeWhile: app.get(LeadershipService) }],
    schemas: rmOpRequests,
    queue: 'tandem-resource-manager',
  }),
});
