// Small helpers without I/O or Nest, usable from apps and libs on either side of the OS boundary.
export * from './keyed-mutex';
export * from './sleep';
export * from './tree-tasks';
export * from './with-timeout';
export * from './wait-for';
export * from './fresh-read';
export * from './batch-queue';
