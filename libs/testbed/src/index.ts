export { Testbed } from './testbed';
export type { ExecOptions, ExecResult, LinkState, NetworkName, NodeRole, TestbedNode, TestbedOptions, TestbedStatus, UpOptions } from './testbed';
export { TestbedError } from './errors';
export { isAlive } from './proc';
export { observerConnection } from './observer';
export type { TestbedErrorCode } from './errors';
export { NETWORKS, NETWORK_NAMES, ROOT_ADMIN_IP, SERVICES, DEFAULT_ROOT, RUN_DIR } from './layout';
export { TESTBED_ADMIN_PASSWORD } from './services';
export { startIsolatedNode, type IsolatedNode } from './isolated-node';
