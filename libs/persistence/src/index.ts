export * from './data-source';
export * from './entities/activity-log.entity';
export * from './entities/cluster.entity';
export * from './entities/ha-pool.entity';
export * from './activity-log.service';
