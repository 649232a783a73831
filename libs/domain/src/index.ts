export * from './leader-lease';
