export * from './names';
export * from './errors';
export * from './subjects';
export * from './streams';
export * from './host-ops';
export * from './events';
export * from './services';
export * from './pool-ops';
