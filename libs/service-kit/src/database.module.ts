import { DynamicModule, Global, Inject, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ActivityLog, openDatabase } from '@tandem/persistence';
import { ReadinessService } from './readiness.service';

/** Postgres through TypeORM: migrations at start under a lock, closed on shutdown. */
@Global()
@Module({})
export class DatabaseModule implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Database');

  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    private readonly readiness: ReadinessService,
  ) {}

  static forRoot(url: string, applicationName: string): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        { provide: DataSource, useFactory: () => openDatabase(url, applicationName) },
        { provide: ActivityLog, useFactory: (ds: DataSource) => new ActivityLog(ds), inject: [DataSource] },
      ],
      exports: [DataSource, ActivityLog],
    };
  }

  onModuleInit(): void {
    this.readiness.register('database', async () => {
      try {
        await this.ds.query('SELECT 1');
        return true;
      } catch (err) {
        return `database: ${(err as Error).message}`;
      }
    });
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) {
      this.logger.log('closing Postgres');
      await this.ds.destroy().catch(() => undefined);
    }
  }
}
