import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { readDatabaseConfig } from '@tandem/config';
import { DatabaseModule, ServiceKitModule, type ServiceContext } from '@tandem/service-kit';
import { NodesController } from './nodes.controller';
import { ActivityController } from './activity.controller';
import { ClusterController } from './cluster.controller';
import { AuthController, AuthGuard, AuthService } from './auth';
import { ShareUsersController } from './share-users.controller';
import { LoginThrottle } from './login-throttle';
import { TokenRevocations } from './token-revocation';
import { GATEWAY_CONFIG, readGatewayConfig, type GatewayConfig } from './config';
import { EventsController } from './events.controller';
import { ApiDocs } from './openapi';
import { ConsoleAssets } from './console-assets';
import { PoolsController } from './pools.controller';
import { ProblemFilter } from './problem';
import { ReplicationController } from './replication.controller';

@Module({})
export class ApiGatewayModule {
  static register(ctx: ServiceContext): DynamicModule {
    return {
      module: ApiGatewayModule,
      imports: [ServiceKitModule.forRoot(ctx), DatabaseModule.forRoot(readDatabaseConfig().url, `tandem-api-gateway@${ctx.config.nodeId}`)],
      controllers: [AuthController, ClusterController, PoolsController, ReplicationController, EventsController, ActivityController, NodesController, ShareUsersController],
      providers: [
        { provide: GATEWAY_CONFIG, useFactory: () => readGatewayConfig() },
        AuthService,
        TokenRevocations,
        {
          provide: LoginThrottle,
          inject: [GATEWAY_CONFIG],
          useFactory: (cfg: GatewayConfig) => new LoginThrottle(cfg.loginFailuresPerMinute ? { perSource: cfg.loginFailuresPerMinute, global: 10 * cfg.loginFailuresPerMinute } : {}),
        },
        ApiDocs,
        ConsoleAssets,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }
}
