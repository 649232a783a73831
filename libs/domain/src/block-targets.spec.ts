import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALUA_STATE,
  aluaSwitchWrites,
  fcPortGroup,
  lioFcConfig,
  lunIdentity,
  nextLunNumber,
  normalizeWwpn,
  poolIqn,
  portalOf,
  tgtLunPlan,
  tgtLunRemoval,
  tgtTargetPlan,
  type FcTargetSpec,
} from './block-targets';

test('the target name follows from the cluster and the pool alone, and is a valid IQN', () => {
  assert.equal(poolIqn('prod', 'tank'), 'iqn.2026-01.io.tandem:prod:tank');
  assert.equal(poolIqn('prod', 'tank'), poolIqn('prod', 'tank'), 'the same on every node');
  assert.notEqual(poolIqn('prod', 'tank'), poolIqn('test', 'tank'), 'two clusters never share a target name');
  // ZFS allows what an IQN does not (capitals, _): cleaned, and kept apart by a hash of the exact name
  const odd = poolIqn('prod', 'Tank_1');
  assert.match(odd, /^iqn\.2026-01\.io\.tandem:prod:tank-1-[0-9a-f]{6}$/);
  assert.notEqual(odd, poolIqn('prod', 'tank-1'));
  assert.notEqual(odd, poolIqn('prod', 'TANK_1'));
  for (const iqn of [odd, poolIqn('a.b', 'x:y')]) assert.match(iqn, /^iqn\.\d{4}-\d{2}\.[a-z0-9.-]+(:[a-z0-9.:-]+)?$/);
});

test("a LUN's serial and device identifier follow from cluster, pool and LUN name; the NAA is the one LIO derives from that serial", () => {
  const a = lunIdentity('prod', 'tank', { name: 'vm1', number: 1 });
  assert.deepEqual(a, lunIdentity('prod', 'tank', { name: 'vm1', number: 1 }), 'deterministic: the same on every node');
  assert.match(a.serial, /^[0-9a-f]{32}$/);
  // NAA type 6, LIO's company id 00:14:05, then the serial's first 25 hex digits (as LIO builds it from vpd_unit_serial)
  assert.equal(a.deviceId, `naa.6001405${a.serial.slice(0, 25)}`);
  assert.equal(a.scsiId, a.deviceId.slice(4));
  assert.equal(a.scsiId.length, 32, 'tgt reads the NAA from 32 hex digits');
  // every input counts
  const others = [lunIdentity('test', 'tank', { name: 'vm1', number: 1 }), lunIdentity('prod', 'tank2', { name: 'vm1', number: 1 }), lunIdentity('prod', 'tank', { name: 'vm2', number: 1 })];
  for (const o of others) assert.notEqual(o.serial, a.serial);
  // no separator games: (pool "a", lun "b/c") is not (pool "a/b", lun "c")
  assert.notEqual(lunIdentity('c', 'a', { name: 'bc', number: 1 }).serial, lunIdentity('c', 'ab', { name: 'c', number: 1 }).serial);
});

test('LUN numbers: the lowest free from 1; at most 255', () => {
  assert.equal(nextLunNumber([]), 1);
  assert.equal(nextLunNumber([{ number: 1 }, { number: 2 }]), 3);
  assert.equal(nextLunNumber([{ number: 2 }, { number: 3 }]), 1, 'a removed LUN leaves its number free');
  assert.throws(() => nextLunNumber(Array.from({ length: 255 }, (_, i) => ({ number: i + 1 }))), /at most 255/);
});

test('the tgt plan: extra portals, the target, each LUN with its identity, CHAP when asked, then open to initiators', () => {
  const lun = { ...lunIdentity('prod', 'tank', { name: 'vm1', number: 2 }), path: '/tank/.tandem/luns/vm1' };
  const plan = tgtTargetPlan({ iqn: 'iqn.2026-01.io.tandem:prod:tank', addresses: ['10.0.0.5', 'fd00::5'], luns: [lun], chap: { user: 'esx', secret: 'secretsecret12' } });
  assert.deepEqual(plan, [
    ['--op', 'new', '--mode', 'portal', '--param', 'portal=[fd00::5]:3260'],
    ['--op', 'new', '--mode', 'target', '--tid', '1', '-T', 'iqn.2026-01.io.tandem:prod:tank'],
    ['--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '2', '--backing-store', '/tank/.tandem/luns/vm1'],
    ['--op', 'update', '--mode', 'logicalunit', '--tid', '1', '--lun', '2', '--params', `vendor_id=TANDEM,product_id=HA-LUN,scsi_id=${lun.scsiId},scsi_sn=${lun.serial}`],
    ['--op', 'new', '--mode', 'account', '--user', 'esx', '--password', 'secretsecret12'],
    ['--op', 'bind', '--mode', 'account', '--tid', '1', '--user', 'esx'],
    ['--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL'],
  ]);
  assert.ok(!tgtTargetPlan({ iqn: 'iqn.x:y', addresses: ['10.0.0.5'], luns: [] }).some((a) => a.includes('account')), 'no CHAP unless asked');
  assert.deepEqual(tgtLunPlan(lun), plan.slice(2, 4));
  assert.deepEqual(tgtLunRemoval(7), ['--op', 'delete', '--mode', 'logicalunit', '--tid', '1', '--lun', '7']);
  assert.equal(portalOf('10.0.0.5'), '10.0.0.5:3260');
});

const NODES = [
  { id: 'node-a', wwpns: ['21:00:00:24:FF:4A:BC:01', '2100002433aabb02'] },
  { id: 'node-b', wwpns: ['naa.21000024ff4abc11'] },
];
const spec = (node: string, role: 'active' | 'standby'): FcTargetSpec => ({
  clusterId: 'prod',
  pool: 'tank',
  nodes: NODES,
  node,
  role,
  luns: [
    { name: 'db', number: 2, sizeBytes: 1 << 30, path: '/dev/zvol/tank/db' },
    { name: 'vm1', number: 1, sizeBytes: 64 << 20, path: '/tank/.tandem/luns/vm1' },
  ],
});

test("FC: the serving node's LIO configuration backs each LUN by its zvol or file, ALUA active/optimized, on every FC port", () => {
  const c = lioFcConfig(spec('node-a', 'active'));
  assert.deepEqual(
    c.storage_objects.map((o) => [o.plugin, o.name, o.dev, o.size]),
    [
      ['fileio', 'tank-vm1', '/tank/.tandem/luns/vm1', 64 << 20],
      ['block', 'tank-db', '/dev/zvol/tank/db', 1 << 30],
    ],
  );
  // the unit serial LIO derives the NAA from is the same as tgt's: the same disk over iSCSI and FC
  assert.deepEqual(
    c.storage_objects.map((o) => o.wwn),
    [lunIdentity('prod', 'tank', { name: 'vm1', number: 1 }).serial, lunIdentity('prod', 'tank', { name: 'db', number: 2 }).serial],
  );
  for (const o of c.storage_objects) {
    assert.equal(o.alua_tpgs.length, 1);
    assert.deepEqual([o.alua_tpgs[0].name, o.alua_tpgs[0].tg_pt_gp_id, o.alua_tpgs[0].alua_access_state, o.alua_tpgs[0].alua_access_type], ['tandem-node-a', 1, ALUA_STATE.activeOptimized, 1]);
  }
  assert.deepEqual(
    c.targets.map((t) => [t.fabric, t.wwn]),
    [
      ['qla2xxx', '21:00:00:24:ff:4a:bc:01'],
      ['qla2xxx', '21:00:00:24:33:aa:bb:02'],
    ],
  );
  for (const t of c.targets) {
    assert.deepEqual(
      t.tpgs[0].luns.map((l) => [l.index, l.storage_object, l.alua_tg_pt_gp_name]),
      [
        [1, '/backstores/fileio/tank-vm1', 'tandem-node-a'],
        [2, '/backstores/block/tank-db', 'tandem-node-a'],
      ],
    );
  }
});

test('FC: a standby node reports the same LUNs (numbers, sizes, serials) from null devices, its own port group in standby', () => {
  const active = lioFcConfig(spec('node-a', 'active'));
  const standby = lioFcConfig(spec('node-b', 'standby'));
  assert.deepEqual(
    standby.storage_objects.map((o) => [o.plugin, o.nullio, o.dev, o.size, o.wwn]),
    active.storage_objects.map((o) => ['rd_mcp', true, undefined, o.size, o.wwn]),
  );
  for (const o of standby.storage_objects) assert.deepEqual([o.alua_tpgs[0].name, o.alua_tpgs[0].tg_pt_gp_id, o.alua_tpgs[0].alua_access_state], ['tandem-node-b', 2, ALUA_STATE.standby]);
  assert.deepEqual(
    standby.targets.map((t) => t.wwn),
    ['21:00:00:24:ff:4a:bc:11'],
  );
  assert.deepEqual(
    standby.targets[0].tpgs[0].luns.map((l) => [l.index, l.storage_object]),
    [
      [1, '/backstores/rd_mcp/tank-vm1'],
      [2, '/backstores/rd_mcp/tank-db'],
    ],
  );
});

test('FC: the ALUA switch as configfs writes', () => {
  assert.deepEqual(aluaSwitchWrites(spec('node-a', 'standby')), [
    { path: 'core/rd_mcp_0/tank-vm1/alua/tandem-node-a/alua_access_state', value: '2' },
    { path: 'core/rd_mcp_0/tank-db/alua/tandem-node-a/alua_access_state', value: '2' },
  ]);
  assert.deepEqual(aluaSwitchWrites(spec('node-b', 'active')), [
    { path: 'core/fileio_0/tank-vm1/alua/tandem-node-b/alua_access_state', value: '0' },
    { path: 'core/iblock_0/tank-db/alua/tandem-node-b/alua_access_state', value: '0' },
  ]);
});

test('FC: bad input is refused by name', () => {
  assert.throws(() => normalizeWwpn('21:00:00:24'), /not a WWPN/);
  assert.throws(() => lioFcConfig({ ...spec('node-c', 'active') }), /node-c is not among the FC nodes/);
  assert.throws(() => lioFcConfig({ ...spec('node-a', 'active'), nodes: [{ id: 'node-a', wwpns: [] }] }), /no FC target port/);
  assert.deepEqual(fcPortGroup(NODES, 'node-b'), { name: 'tandem-node-b', id: 2 });
});
