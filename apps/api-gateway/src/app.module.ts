import { DynamicModule, Module } from '@nestjs/common';
import { readDatabaseConfig } from '@tandem/config';
import { DatabaseModule, ServiceKitModule, type ServiceContext } from '@tandem/service-kit';
import { NodesController } from './nodes.controller';
import { ActivityController } from './activity.controller';

@Module({})
export class ApiGatewayModule {
  static register(ctx: ServiceContext): DynamicModule {
    return {
      module: ApiGatewayModule,
      imports: [ServiceKitModule.forRoot(ctx), DatabaseModule.forRoot(readDatabaseConfig().url, `tandem-api-gateway@${ctx.config.nodeId}`)],
      controllers: [NodesController, ActivityController],
    };
  }
}
