import { readDatabaseConfig } from '@tandem/config';
import { runService } from '@tandem/service-kit';
import { ApiGatewayModule } from './app.module';

runService({ service: 'api-gateway', readConfig: readDatabaseConfig, module: (ctx) => ApiGatewayModule.register(ctx) });
