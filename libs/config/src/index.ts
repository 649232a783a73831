export * from './env';
export * from './service-config';
export * from './failover-config';
export * from './state-file';
