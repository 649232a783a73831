export * from './leader-lease';
export * from './ha-pool';
export * from './peer-liveness';
export * from './failover-planner';
export * from './ownership';
export * from './lost-pools';
export * from './failover-decider';
export * from './replication-planner';
