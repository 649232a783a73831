export * from './leader-lease';
export * from './ha-pool';
