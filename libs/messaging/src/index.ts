export * from './connection';
export * from './jetstream';
export * from './errors';
export * from './rpc-server';
export * from './rpc-client';
export * from './byte-stream';
export * from './event-publisher';
export * from './leader-election';
