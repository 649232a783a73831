import { readDatabaseConfig } from '@tandem/config';
import { runService } from '@tandem/service-kit';
import { ResourceManagerModule } from './app.module';

runService({
  service: 'resource-manager',
  readConfig: readDatabaseConfig,
  module: (ctx) => ResourceManagerModule.register(ctx),
});
