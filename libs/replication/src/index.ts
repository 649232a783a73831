export * from './replication-sync';
