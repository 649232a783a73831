import { readDatabaseConfig } from '@tandem/config';
import { runService } from '@tandem/service-kit';
import { ReplicationSchedulerModule } from './app.module';

runService({ service: 'replication-scheduler', readConfig: readDatabaseConfig, module: (ctx) => ReplicationSchedulerModule.register(ctx) });
