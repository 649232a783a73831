export * from './commands';
export * from './parsers';
export * from './errors';
