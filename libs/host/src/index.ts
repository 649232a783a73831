export * from './process-runner';
export * from './net';
