import * as path from 'node:path';
import type { ServiceName } from '@tandem/contracts';

export type NetworkName = 'heartbeat' | 'admin' | 'client';
export type NodeRole = 'storage' | 'witness' | 'client';

export const NETWORK_NAMES: readonly NetworkName[] = ['heartbeat', 'admin', 'client'];

export interface NetworkDef {
  /** Bridge in the root namespace. */
  bridge: string;
  /** First three octets of the /24. */
  prefix: string;
  /** Interface name inside every node namespace. */
  ifname: string;
  /** Short tag used in host-side veth names. */
  tag: string;
}

export const NETWORKS: Record<NetworkName, NetworkDef> = {
  heartbeat: { bridge: 'tb-hb', prefix: '10.77.1', ifname: 'hb0', tag: 'hb' },
  admin: { bridge: 'tb-adm', prefix: '10.77.2', ifname: 'adm0', tag: 'adm' },
  client: { bridge: 'tb-cli', prefix: '10.77.3', ifname: 'cli0', tag: 'cli' },
};

/** The root namespace's own address on the admin bridge. */
export const ROOT_ADMIN_IP = '10.77.2.1';
export const PREFIX_LEN = 24;

export const DEFAULT_ROOT = '/var/lib/tandem-testbed';
export const RUN_DIR = '/run/tandem-testbed';
export const NETNS_DIR = '/run/netns';

export const MAX_STORAGE_NODES = 20;
export const DEFAULT_STORAGE_NODES = 2;

export const NATS_CLIENT_PORT = 4222;
export const NATS_HTTP_PORT = 8222;
export const NATS_CLUSTER_PORT = 6222;
export const PG_PORT = 5432;

/** Node services started on every storage node, with their health ports. */
export const SERVICES: ReadonlyArray<{ app: ServiceName; port: number }> = [
  { app: 'host-executor', port: 9101 },
  { app: 'heartbeat', port: 9102 },
  { app: 'resource-manager', port: 9103 },
  { app: 'replication-scheduler', port: 9104 },
  { app: 'api-gateway', port: 8080 },
];
export const API_PORT = 8080;

export const NODE_NAME_RE = /^(node-[a-z]|witness|client)$/;

/*
 * Everything the testbed creates in the root namespace matches one of these, so `down`
 * can find leftovers without a state file while leaving other `tb-*` objects alone.
 */
export const OUR_NETNS_RE = /^tb-(node-[a-z]|witness|client)$/;
export const OUR_LINK_RE = /^tb-(hb|adm|cli|[a-z]-(hb|adm|cli)|wit-(hb|adm)|cln-cli)$/;
export const OUR_BRIDGES = [NETWORKS.heartbeat.bridge, NETWORKS.admin.bridge, NETWORKS.client.bridge];

export interface NodeSpec {
  name: string;
  role: NodeRole;
  netns: string;
  /** 0-based index for storage nodes. */
  index: number | null;
  addresses: Record<NetworkName, string | null>;
  /** Tag in host-side veth names: `a` for node-a, `wit`, `cln`. */
  vethTag: string;
}

export function storageNodeName(i: number): string {
  return `node-${String.fromCharCode('a'.charCodeAt(0) + i)}`;
}

export function clusterSpec(storageNodes: number): NodeSpec[] {
  const specs: NodeSpec[] = [];
  for (let i = 0; i < storageNodes; i++) {
    const name = storageNodeName(i);
    const host = 11 + i;
    specs.push({
      name,
      role: 'storage',
      netns: `tb-${name}`,
      index: i,
      addresses: {
        heartbeat: `${NETWORKS.heartbeat.prefix}.${host}`,
        admin: `${NETWORKS.admin.prefix}.${host}`,
        client: `${NETWORKS.client.prefix}.${host}`,
      },
      vethTag: name.slice('node-'.length),
    });
  }
  specs.push({
    name: 'witness',
    role: 'witness',
    netns: 'tb-witness',
    index: null,
    addresses: {
      heartbeat: `${NETWORKS.heartbeat.prefix}.5`,
      admin: `${NETWORKS.admin.prefix}.5`,
      client: null,
    },
    vethTag: 'wit',
  });
  specs.push({
    name: 'client',
    role: 'client',
    netns: 'tb-client',
    index: null,
    addresses: { heartbeat: null, admin: null, client: `${NETWORKS.client.prefix}.100` },
    vethTag: 'cln',
  });
  return specs;
}

export function hostVethName(spec: NodeSpec, net: NetworkName): string {
  return `tb-${spec.vethTag}-${NETWORKS[net].tag}`;
}

export function netnsPath(spec: NodeSpec): string {
  return path.join(NETNS_DIR, spec.netns);
}

/** Does this node run NATS? (storage nodes and the witness) */
export function runsNats(spec: NodeSpec): boolean {
  return spec.role === 'storage' || spec.role === 'witness';
}

export class Paths {
  constructor(
    readonly root: string,
    readonly runDir: string = RUN_DIR,
  ) {}

  get stateFile(): string {
    return path.join(this.root, 'state.json');
  }
  get marker(): string {
    return path.join(this.root, '.tandem-testbed');
  }
  /** Paths outside root/run dir that the testbed created (undone by `down`). */
  get hostPathsFile(): string {
    return path.join(this.root, 'host-paths.json');
  }
  get jbod(): string {
    return path.join(this.root, 'jbod');
  }
  get pgTemplate(): string {
    return path.join(this.root, 'pg-template');
  }
  get pgTemplateReady(): string {
    return path.join(this.root, 'pg-template.ready');
  }
  get nsDir(): string {
    return path.join(this.runDir, 'ns');
  }
  nodeDir(name: string): string {
    return path.join(this.root, 'nodes', name);
  }
  stateDir(name: string): string {
    return path.join(this.nodeDir(name), 'state');
  }
  /**
   * The storage node's own disks (replicated pools' copies): its host-executor's
   * TANDEM_LOCAL_DEVICE_DIR, hidden from every other node's mount namespace. Kept across
   * power-off like the node's state; `down` removes it.
   */
  localDeviceDir(name: string): string {
    return path.join(this.nodeDir(name), 'disks');
  }
  /**
   * The storage node's hooks (its host-executor's TANDEM_HOOKS_DIR; /etc/tandem/hooks on a real
   * node): every node of the testbed shares the machine's /etc, so each has its own. Kept across
   * power-off like the node's state; `down` removes it.
   */
  hooksDir(name: string): string {
    return path.join(this.nodeDir(name), 'hooks');
  }
  logDir(name: string): string {
    return path.join(this.nodeDir(name), 'logs');
  }
  logFile(name: string, what: string): string {
    return path.join(this.logDir(name), `${what}.log`);
  }
  natsStore(name: string): string {
    return path.join(this.nodeDir(name), 'nats');
  }
  natsConfig(name: string): string {
    return path.join(this.nodeDir(name), 'nats-server.conf');
  }
  natsPid(name: string): string {
    return path.join(this.nodeDir(name), 'nats-server.pid');
  }
  pgData(name: string): string {
    return path.join(this.nodeDir(name), 'pg');
  }
  pgSocketDir(name: string): string {
    return path.join(this.runDir, 'pg', name);
  }
  zfsPid(name: string): string {
    return path.join(this.nodeDir(name), 'zfs-fuse.pid');
  }
  /** The process that makes the node's disks fail (see Testbed.diskFail). */
  diskFaultPid(name: string): string {
    return path.join(this.nodeDir(name), 'disk-fault.pid');
  }
  servicePid(name: string, app: string): string {
    return path.join(this.nodeDir(name), 'run', `${app}.pid`);
  }
  /** Upper and work directories of the node's /etc overlay (its own /etc/hostid). */
  etcOverlay(name: string): string {
    return path.join(this.runDir, 'etc', name);
  }
  /** Upper and work directories of the node's /usr/sbin overlay (the Pacemaker peer's fence agent). */
  sbinOverlay(name: string): string {
    return path.join(this.runDir, 'sbin', name);
  }
  /** The Pacemaker peer's files shared by its nodes (corosync authkey, SMB configuration). */
  get pacemakerDir(): string {
    return path.join(this.root, 'pacemaker');
  }
  mountNsFile(name: string): string {
    return path.join(this.nsDir, `${name}.mnt`);
  }
}
