import { runService } from '@tandem/service-kit';
import { HeartbeatModule } from './app.module';
import { readHeartbeatConfig } from './heartbeat.config';

runService({ service: 'heartbeat', timingCritical: true, realtime: true, readConfig: readHeartbeatConfig, module: (ctx) => HeartbeatModule.register(ctx) });
