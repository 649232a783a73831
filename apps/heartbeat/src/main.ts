import { runService } from '@tandem/service-kit';
import { HeartbeatModule } from './app.module';
import { readHeartbeatConfig } from './heartbeat.config';

runService({ service: 'heartbeat', readConfig: readHeartbeatConfig, module: (ctx) => HeartbeatModule.register(ctx) });
