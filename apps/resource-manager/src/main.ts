import { readDatabaseConfig } from '@tandem/config';
import { runService } from '@tandem/service-kit';
import { ResourceManagerModule } from './app.module';
import { readResourceManagerConfig } from './resource-manager.config';

runService({
  service: 'resource-manager',
  readConfig: () => {
    readDatabaseConfig();
    readResourceManagerConfig();
  },
  module: (ctx) => ResourceManagerModule.register(ctx),
});
