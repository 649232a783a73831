export type ShareProtocol = 'smb' | 'nfs';

export const SHARE_PROTOCOLS: readonly ShareProtocol[] = ['smb', 'nfs'];

/** One share of an HA pool, served on the pool's floating IPs only. */
export interface ShareSpec {
  pool: string;
  name: string;
  protocol: ShareProtocol;
  /** Absolute directory on this node (normally the mountpoint of a dataset of the pool). */
  path: string;
  /**
   * The pool's floating IPs. One daemon serves all shares of a pool per protocol, so this
   * is a property of the pool: starting a share with another set of addresses rebinds every
   * share of that pool and protocol. NFS-Ganesha binds exactly one address per instance.
   */
  addresses: string[];
  readOnly?: boolean;
  /** Client networks (ADDRESS/PREFIX) allowed to use the share; empty or absent: every client. */
  clients?: string[];
  /** NFS: a client's root is squashed to the anonymous user (65534); default true. */
  rootSquash?: boolean;
  /** SMB: the users let in (each acting as its own unix account, checked against the passdb); empty or absent: guests. */
  users?: string[];
}

export interface ShareStatus {
  pool: string;
  name: string;
  protocol: ShareProtocol;
  path: string;
  addresses: string[];
  running: boolean;
  pid?: number;
}

/** One share as recorded in an instance's desired state. */
export interface ShareEntry {
  name: string;
  path: string;
  readOnly: boolean;
  /** Client networks allowed (canonical ADDRESS/PREFIX, sorted); empty or absent (a state written before they existed): every client. */
  clients?: string[];
  /** NFS: root squashed to the anonymous user; absent (an older state): squashed. */
  rootSquash?: boolean;
  /** SMB: the users let in; empty or absent (a state written before they existed): guests. */
  users?: string[];
  /** NFS only: the Export_Id, stable for as long as the share exists. */
  exportId?: number;
}

/** What one daemon (one pool, one protocol) should serve. */
export interface ShareInstanceSpec {
  pool: string;
  protocol: ShareProtocol;
  addresses: string[];
  shares: ShareEntry[];
}
