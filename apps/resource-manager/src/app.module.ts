import { DynamicModule, Module } from '@nestjs/common';
import { readDatabaseConfig } from '@tandem/config';
import { DatabaseModule, LeadershipService, ServiceKitModule, type ServiceContext } from '@tandem/service-kit';

@Module({})
export class ResourceManagerModule {
  static register(ctx: ServiceContext): DynamicModule {
    return {
      module: ResourceManagerModule,
      imports: [ServiceKitModule.forRoot(ctx), DatabaseModule.forRoot(readDatabaseConfig().url, `tandem-resource-manager@${ctx.config.nodeId}`)],
      providers: [LeadershipService],
    };
  }
}
