export * from './process-runner';
export * from './keyed-mutex';
export * from './net';
export * from './shares';
