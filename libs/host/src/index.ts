export * from './process-runner';
export * from './net';
export * from './mounts';
