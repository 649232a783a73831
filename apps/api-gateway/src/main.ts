import { readDatabaseConfig } from '@tandem/config';
import { runService } from '@tandem/service-kit';
import { ApiGatewayModule } from './app.module';
import { readGatewayConfig } from './config';
import { ApiDocs } from './openapi';

runService({
  service: 'api-gateway',
  readConfig: () => {
    readDatabaseConfig();
    readGatewayConfig();
  },
  module: (ctx) => ApiGatewayModule.register(ctx),
  listenOn: () => readGatewayConfig().bind ?? [],
  afterStart: async (app) => app.get(ApiDocs).attach(app),
});
