import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePacket, encodePacket, heartbeatKey } from '@tandem/contracts';
import { PeerLiveness } from '@tandem/domain';

/* The heartbeat wire format (libs/contracts) and the failure detector (libs/domain) together, as this service runs them. */
const key = heartbeatKey('a-cluster-secret-of-enough-length');
const beat = { clusterId: 'testbed', from: 'node-b', incarnation: 1_763_000_000_000, seq: 42, sentMs: 12_345.678 };

test('a genuine heartbeat replayed later does not revive a dead peer', () => {
  const lv = new PeerLiveness({ intervalMs: 500, timeoutMs: 3_000 });
  lv.setPeers(['node-b'], 0);
  const captured: Buffer[] = [];
  for (let seq = 1; seq <= 4; seq++) {
    const buf = encodePacket({ ...beat, seq }, key);
    captured.push(buf);
    const d = decodePacket(buf, key, 'testbed');
    assert.ok(d.ok);
    assert.equal(lv.heard(d.packet.from, 'udp', d.packet, seq * 500), 'accepted');
    assert.equal(lv.heard(d.packet.from, 'nats', d.packet, seq * 500), 'accepted');
  }
  assert.deepEqual(
    lv.evaluate(2_100).map((t) => t.to),
    ['up'],
  );
  assert.deepEqual(
    lv.evaluate(2_000 + 3_000).map((t) => t.to),
    ['down'],
  );
  for (const buf of captured) {
    const d = decodePacket(buf, key, 'testbed');
    assert.ok(d.ok, 'a replay is authentic: only the sequence gives it away');
    assert.equal(lv.heard(d.packet.from, 'udp', d.packet, 6_000), 'replayed');
    assert.equal(lv.heard(d.packet.from, 'nats', d.packet, 6_000), 'replayed');
  }
  assert.deepEqual(lv.evaluate(6_000), []);
  assert.equal(lv.state('node-b', 6_000), 'down');
});
