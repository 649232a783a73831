export * from './data-source';
export * from './entities/activity-log.entity';
export * from './activity-log.service';
