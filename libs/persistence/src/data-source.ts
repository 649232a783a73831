import { DataSource } from 'typeorm';
import { ActivityLogEntity } from './entities/activity-log.entity';
import { Initial1763683200000 } from './migrations/1763683200000-Initial';
import { DropUnusedConfigTables1796335869021 } from './migrations/1796335869021-DropUnusedConfigTables';
import { ActivityDetail1796425200000 } from './migrations/1796425200000-ActivityDetail';

export const ENTITIES = [ActivityLogEntity];
export const MIGRATIONS = [Initial1763683200000, DropUnusedConfigTables1796335869021, ActivityDetail1796425200000];

/** Lock id for migrations: two services starting together never migrate at once. */
export const MIGRATION_LOCK_ID = 0x74616e64; // 'tand'

export function createDataSource(url: string, applicationName = 'tandem'): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'tandem_migrations',
    applicationName,
    extra: { max: 5, connectionTimeoutMillis: 5_000 },
  });
}

/** Connect (retrying until `timeoutMs`) and run pending migrations under a Postgres advisory lock. */
export async function openDatabase(url: string, applicationName: string, timeoutMs = 30_000): Promise<DataSource> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const ds = createDataSource(url, applicationName);
    try {
      await ds.initialize();
      await migrateUnderLock(ds);
      return ds;
    } catch (err) {
      lastError = err;
      if (ds.isInitialized) await ds.destroy().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`cannot open the database (${redact(url)}): ${(lastError as Error)?.message} — check that Postgres runs and TANDEM_DATABASE_URL is right`);
}

export async function migrateUnderLock(ds: DataSource): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const done = await ds.runMigrations({ transaction: 'each' });
    return done.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await runner.release();
  }
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
