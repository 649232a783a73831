import { DynamicModule, Module } from '@nestjs/common';
import { ServiceKitModule, type ServiceContext } from '@tandem/service-kit';
import { LivenessService } from './liveness.service';

@Module({})
export class HeartbeatModule {
  static register(ctx: ServiceContext): DynamicModule {
    return { module: HeartbeatModule, imports: [ServiceKitModule.forRoot(ctx)], providers: [LivenessService] };
  }
}
