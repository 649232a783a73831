import { runService } from '@tandem/service-kit';
import { HeartbeatModule } from './app.module';

runService({ service: 'heartbeat', module: (ctx) => HeartbeatModule.register(ctx) });
