export * from './tokens';
export * from './readiness.service';
export * from './health.controller';
export * from './service-kit.module';
export * from './database.module';
export * from './bootstrap';
export * from './leadership.service';
export * from './http-observability';
