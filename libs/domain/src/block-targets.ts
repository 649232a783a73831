import { createHash } from 'node:crypto';

/**
 * Block targets of an HA pool: what an initiator sees of its LUNs, the same on every node.
 *
 * Rules, in operators' words:
 * 1. A pool has one target. Its name (IQN), its LUN numbers, each LUN's serial and device
 *    identifier follow from the cluster, the pool and the LUN's name alone: every node derives
 *    the same, so an initiator that logs in again after a move or a failover sees the same disks
 *    (multipath and VMware match paths and datastores by these).
 * 2. The device identifier is the NAA (type 6, IEEE registered extended) that LIO derives from a
 *    unit serial: company id 0x001405 and the serial's first 25 hex digits. tgt is given the same
 *    32 hex digits as its scsi_id, from which it reports the same NAA. A LUN keeps its identifier
 *    whichever of the two serves it.
 * 3. LUN 0 is the target's controller (tgt) or left free: the pool's LUNs are numbered from 1.
 * 4. Over Fibre Channel each node's target ports form one ALUA target port group:
 *    active/optimized on the node serving the pool, standby on the others. A move or failover
 *    turns the old node's group to standby before the new node's becomes active, so there is
 *    never a moment with two active groups: the target stops with the shares on the node giving
 *    the pool up (bringDownSteps, releaseSteps) before it starts on the node taking it
 *    (bringUpSteps); a dead node's ports are gone with it.
 */

/** The naming authority of Tandem's targets (RFC 3720: iqn.YYYY-MM.reversed-domain). */
export const IQN_PREFIX = 'iqn.2026-01.io.tandem';
/** LIO's IEEE company id, from which it builds every NAA identifier. */
export const LIO_COMPANY_ID = '001405';
/** The vendor the LUNs report in their standard INQUIRY data (at most 8 characters). */
export const LUN_VENDOR = 'TANDEM';
/** The product the LUNs report (at most 16 characters). */
export const LUN_PRODUCT = 'HA-LUN';
/** The iSCSI port. */
export const ISCSI_PORT = 3260;

/** One LUN as the pool records it. */
export interface LunRecord {
  name: string;
  /** 1-255: the number initiators address it by. */
  number: number;
  sizeBytes: number;
}

/** What an initiator sees of one LUN. */
export interface LunIdentity {
  name: string;
  number: number;
  /** Unit serial number (VPD page 0x80): 32 lower-case hex digits. */
  serial: string;
  /** Device identifier (VPD page 0x83): naa.6001405 + 25 hex digits. */
  deviceId: string;
  /** What tgt is given as scsi_id: the NAA's 32 hex digits (it reports the first 24 as a T10 vendor id, the whole as the NAA). */
  scsiId: string;
}

function hex(input: string): string {
  return createHash('sha256').update(input, 'utf8').digest('hex');
}

/** IQN characters: lower-case letters, digits, '-', '.', ':' (RFC 3722 after stringprep). */
function iqnPart(s: string): string {
  const clean = s.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
  // two names that clean to the same text must not share a target name
  return clean === s ? clean : `${clean}-${hex(s).slice(0, 6)}`;
}

/** The pool's target name: the same on every node of the cluster. */
export function poolIqn(clusterId: string, pool: string): string {
  return `${IQN_PREFIX}:${iqnPart(clusterId)}:${iqnPart(pool)}`;
}

/** Serial and device identifier of one LUN, from the cluster, the pool and the LUN's name. */
export function lunIdentity(clusterId: string, pool: string, lun: Pick<LunRecord, 'name' | 'number'>): LunIdentity {
  const serial = hex(`tandem-lun\0${clusterId}\0${pool}\0${lun.name}`).slice(0, 32);
  const naa = `6${LIO_COMPANY_ID}${serial.slice(0, 25)}`;
  return { name: lun.name, number: lun.number, serial, deviceId: `naa.${naa}`, scsiId: naa };
}

/** The lowest LUN number (from 1) no LUN of the pool has. */
export function nextLunNumber(luns: ReadonlyArray<Pick<LunRecord, 'number'>>): number {
  const used = new Set(luns.map((l) => l.number));
  let n = 1;
  while (used.has(n)) n++;
  if (n > 255) throw new RangeError('a pool has at most 255 LUNs');
  return n;
}

// ---------------------------------------------------------------------------------------------
// tgt (the testbed's iSCSI target): the tgtadm commands that build a pool's target
// ---------------------------------------------------------------------------------------------

export interface TgtLun extends LunIdentity {
  /** The backing device or file on this node. */
  path: string;
}

export interface TgtTargetSpec {
  iqn: string;
  /** The pool's floating IPs: the target's only portals. */
  addresses: string[];
  luns: TgtLun[];
  /** CHAP: initiators log in with this user and secret; absent, without CHAP. */
  chap?: { user: string; secret: string };
}

/** tgtadm argument lists (after `tgtadm -C PORT --lld iscsi`) that build the target in a fresh tgtd, in order. */
export function tgtTargetPlan(spec: TgtTargetSpec): string[][] {
  const plan: string[][] = [];
  // the first address is given to tgtd itself (--iscsi portal=); the others are added here
  for (const a of spec.addresses.slice(1)) plan.push(['--op', 'new', '--mode', 'portal', '--param', `portal=${portalOf(a)}`]);
  plan.push(['--op', 'new', '--mode', 'target', '--tid', '1', '-T', spec.iqn]);
  for (const lun of [...spec.luns].sort((a, b) => a.number - b.number)) plan.push(...tgtLunPlan(lun));
  if (spec.chap) {
    plan.push(['--op', 'new', '--mode', 'account', '--user', spec.chap.user, '--password', spec.chap.secret]);
    plan.push(['--op', 'bind', '--mode', 'account', '--tid', '1', '--user', spec.chap.user]);
  }
  plan.push(['--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL']);
  return plan;
}

/** tgtadm argument lists that add one LUN to the running target. */
export function tgtLunPlan(lun: TgtLun): string[][] {
  const n = String(lun.number);
  return [
    ['--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', n, '--backing-store', lun.path],
    ['--op', 'update', '--mode', 'logicalunit', '--tid', '1', '--lun', n, '--params', `vendor_id=${LUN_VENDOR},product_id=${LUN_PRODUCT},scsi_id=${lun.scsiId},scsi_sn=${lun.serial}`],
  ];
}

/** tgtadm arguments that take one LUN out of the running target. */
export function tgtLunRemoval(number: number): string[] {
  return ['--op', 'delete', '--mode', 'logicalunit', '--tid', '1', '--lun', String(number)];
}

/** ADDRESS:PORT as tgt writes a portal (IPv6 in brackets). */
export function portalOf(address: string): string {
  return address.includes(':') ? `[${address}]:${ISCSI_PORT}` : `${address}:${ISCSI_PORT}`;
}

// ---------------------------------------------------------------------------------------------
// LIO over Fibre Channel (qla2xxx target mode): the saveconfig of one node, with ALUA
// ---------------------------------------------------------------------------------------------

/** ALUA access states as LIO writes them to alua_access_state. */
export const ALUA_STATE = { activeOptimized: 0, activeNonOptimized: 1, standby: 2, unavailable: 3, transitioning: 15 } as const;
export type AluaRole = 'active' | 'standby';

export interface FcNode {
  id: string;
  /** The node's FC target ports (WWPNs, e.g. 21:00:00:24:ff:4a:bc:01). */
  wwpns: string[];
}

export interface FcTargetSpec {
  clusterId: string;
  pool: string;
  /** Every node of the cluster, in a fixed order (target port group ids and relative port ids follow it). */
  nodes: FcNode[];
  /** The node this configuration is for. */
  node: string;
  /** Whether this node serves the pool (active/optimized) or not (standby). */
  role: AluaRole;
  /** The pool's LUNs; `path` is the backing on this node while it serves them. */
  luns: Array<LunRecord & { path: string }>;
}

const WWPN_RE = /^([0-9a-f]{2}:){7}[0-9a-f]{2}$/;

/** A WWPN as LIO names a qla2xxx port: lower-case, colon-separated. Throws on anything else. */
export function normalizeWwpn(w: string): string {
  const s = w
    .trim()
    .toLowerCase()
    .replace(/^naa\./, '');
  const colon = /^[0-9a-f]{16}$/.test(s) ? s.match(/../g)!.join(':') : s;
  if (!WWPN_RE.test(colon)) throw new RangeError(`${w} is not a WWPN (8 bytes, e.g. 21:00:00:24:ff:4a:bc:01)`);
  return colon;
}

/** The ALUA target port group of a node: its name and id (1-based, from the node's place in the cluster). */
export function fcPortGroup(nodes: FcNode[], node: string): { name: string; id: number } {
  const i = nodes.findIndex((n) => n.id === node);
  if (i < 0) throw new RangeError(`node ${node} is not among the FC nodes (${nodes.map((n) => n.id).join(', ')})`);
  return { name: `tandem-${node}`, id: i + 1 };
}

/** The backstore name of a LUN in LIO (unique per node: pool and LUN). */
export function lioBackstoreName(pool: string, lun: string): string {
  return `${pool}-${lun}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

/**
 * This node's LIO configuration for an FC pool, in the form `targetctl restore` (rtslib's
 * saveconfig.json) takes. On the serving node each LUN is backed by its zvol or file; on the
 * others by a null device of the same size and identity, which LIO reports but never reads or
 * writes (its port group is in standby, so LIO refuses I/O to it). Each node's ports form its
 * own target port group; initiators' multipath learns the states through REPORT TARGET PORT GROUPS.
 */
export function lioFcConfig(spec: FcTargetSpec): LioSaveConfig {
  const self = spec.nodes.find((n) => n.id === spec.node);
  if (!self) throw new RangeError(`node ${spec.node} is not among the FC nodes`);
  if (self.wwpns.length === 0) throw new RangeError(`node ${spec.node} has no FC target port`);
  const group = fcPortGroup(spec.nodes, spec.node);
  const state = spec.role === 'active' ? ALUA_STATE.activeOptimized : ALUA_STATE.standby;
  const luns = [...spec.luns].sort((a, b) => a.number - b.number);
  const storage_objects: LioStorageObject[] = luns.map((lun) => {
    const id = lunIdentity(spec.clusterId, spec.pool, lun);
    const alua_tpgs = [
      {
        name: group.name,
        tg_pt_gp_id: group.id,
        alua_access_state: state,
        // implicit: the cluster switches the states, initiators only read them
        alua_access_type: 1,
        alua_support_active_optimized: 1,
        alua_support_standby: 1,
        alua_support_transitioning: 1,
        preferred: 0,
        implicit_trans_secs: 10,
        nonop_delay_msecs: 100,
        trans_delay_msecs: 0,
      },
    ];
    const name = lioBackstoreName(spec.pool, lun.name);
    return spec.role === 'active'
      ? { plugin: lun.path.startsWith('/dev/') ? 'block' : 'fileio', name, dev: lun.path, size: lun.sizeBytes, wwn: id.serial, write_back: false, alua_tpgs }
      : { plugin: 'rd_mcp', name, size: lun.sizeBytes, nullio: true, wwn: id.serial, alua_tpgs };
  });
  const pluginOf = new Map(storage_objects.map((o) => [o.name, o.plugin]));
  const targets: LioTarget[] = self.wwpns.map((w) => ({
    fabric: 'qla2xxx',
    wwn: normalizeWwpn(w),
    tpgs: [
      {
        tag: 1,
        enable: true,
        attributes: { generate_node_acls: 1, demo_mode_write_protect: 0 },
        luns: luns.map((lun) => {
          const name = lioBackstoreName(spec.pool, lun.name);
          return { index: lun.number, storage_object: `/backstores/${pluginOf.get(name)}/${name}`, alua_tg_pt_gp_name: group.name };
        }),
        node_acls: [],
      },
    ],
  }));
  return { storage_objects, targets };
}

/** One write to LIO's configfs: PATH (under /sys/kernel/config/target) ← VALUE. */
export interface ConfigfsWrite {
  path: string;
  value: string;
}

/**
 * The ALUA switch of an FC pool on one node, as configfs writes: every LUN's target port group
 * of this node to `role`. Run with role standby on the node giving the pool up (before it
 * exports) and with role active on the node taking it (after it imported and the backstores
 * point at its devices).
 */
export function aluaSwitchWrites(spec: Pick<FcTargetSpec, 'nodes' | 'node' | 'pool' | 'luns' | 'role'>): ConfigfsWrite[] {
  const group = fcPortGroup(spec.nodes, spec.node);
  const state = spec.role === 'active' ? ALUA_STATE.activeOptimized : ALUA_STATE.standby;
  return [...spec.luns]
    .sort((a, b) => a.number - b.number)
    .map((lun) => {
      const name = lioBackstoreName(spec.pool, lun.name);
      const hba = spec.role === 'active' ? (lun.path.startsWith('/dev/') ? 'iblock_0' : 'fileio_0') : 'rd_mcp_0';
      return { path: `core/${hba}/${name}/alua/${group.name}/alua_access_state`, value: String(state) };
    });
}

export interface LioStorageObject {
  plugin: 'block' | 'fileio' | 'rd_mcp';
  name: string;
  dev?: string;
  size: number;
  nullio?: boolean;
  write_back?: boolean;
  /** The unit serial: LIO derives the NAA identifier from it. */
  wwn: string;
  alua_tpgs: Array<Record<string, string | number>>;
}

export interface LioTarget {
  fabric: 'qla2xxx';
  wwn: string;
  tpgs: Array<{
    tag: number;
    enable: boolean;
    attributes: Record<string, number>;
    luns: Array<{ index: number; storage_object: string; alua_tg_pt_gp_name: string }>;
    node_acls: unknown[];
  }>;
}

export interface LioSaveConfig {
  storage_objects: LioStorageObject[];
  targets: LioTarget[];
}
