import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { decodePacket, encodePacket, heartbeatKey, PACKET_VERSION } from './heartbeat-packet';

const SECRET = 'a-cluster-secret-of-enough-length';
const key = heartbeatKey(SECRET);
const beat = { clusterId: 'testbed', from: 'node-b', incarnation: 1_763_000_000_000, seq: 42, sentMs: 12_345.678 };

test('a heartbeat survives the round trip, compactly', () => {
  const buf = encodePacket(beat, key);
  assert.ok(buf.length < 128, `${buf.length} bytes`);
  assert.deepEqual(decodePacket(buf, key, 'testbed'), { ok: true, packet: { version: PACKET_VERSION, ...beat, echo: [], reply: false } });
  // from a Uint8Array view into a bigger buffer, as NATS hands it over
  const big = new Uint8Array(buf.length + 10);
  big.set(buf, 5);
  assert.equal(decodePacket(big.subarray(5, 5 + buf.length), key, 'testbed').ok, true);
});

test('the key is derived from the secret, and differs for another secret', () => {
  assert.equal(key.length, 32);
  assert.ok(!key.equals(Buffer.from(SECRET.slice(0, 32))));
  assert.ok(!key.equals(heartbeatKey(`${SECRET}x`)));
  assert.throws(() => heartbeatKey(''));
});

test('a forged heartbeat (another key, or any bit changed) fails the MAC', () => {
  const forged = encodePacket(beat, heartbeatKey('not-the-cluster-secret-at-all'));
  assert.deepEqual(decodePacket(forged, key, 'testbed'), { ok: false, reason: 'bad-mac' });
  const good = encodePacket(beat, key);
  for (let i = 4; i < good.length; i++) {
    const t = Buffer.from(good);
    t[i] ^= 0x01;
    const r = decodePacket(t, key, 'testbed');
    assert.equal(r.ok, false, `bit flipped at byte ${i} must not pass`);
  }
  // a bumped sequence number with the old MAC
  const bumped = Buffer.from(good);
  const seqAt = good.length - 32 - 1 - 16;
  bumped.writeBigUInt64BE(BigInt(beat.seq + 1000), seqAt);
  assert.deepEqual(decodePacket(bumped, key, 'testbed'), { ok: false, reason: 'bad-mac' });
});

test('a heartbeat of another cluster is refused as such, even when signed with the same secret', () => {
  const other = encodePacket({ ...beat, clusterId: 'other' }, key);
  assert.deepEqual(decodePacket(other, key, 'testbed'), { ok: false, reason: 'wrong-cluster' });
});

test('garbage, truncation, another version and another type are refused', () => {
  const good = encodePacket(beat, key);
  assert.deepEqual(decodePacket(Buffer.from('hello world'), key, 'testbed'), { ok: false, reason: 'malformed' });
  assert.deepEqual(decodePacket(Buffer.alloc(0), key, 'testbed'), { ok: false, reason: 'malformed' });
  assert.deepEqual(decodePacket(good.subarray(0, good.length - 1), key, 'testbed'), { ok: false, reason: 'malformed' });
  assert.deepEqual(decodePacket(Buffer.concat([good, Buffer.from([0])]), key, 'testbed'), { ok: false, reason: 'malformed' });
  const v3 = Buffer.from(good);
  v3[2] = 3;
  assert.deepEqual(decodePacket(v3, key, 'testbed'), { ok: false, reason: 'wrong-version' });
  const t9 = Buffer.from(good);
  t9[3] = 9;
  assert.deepEqual(decodePacket(t9, key, 'testbed'), { ok: false, reason: 'malformed' });
  const hugeLen = Buffer.from(good);
  hugeLen[4] = 250;
  assert.deepEqual(decodePacket(hugeLen, key, 'testbed'), { ok: false, reason: 'malformed' });
});

test('the echo (what the sender last heard from each peer) survives the round trip and is signed', () => {
  const echo = [
    { peer: 'node-a', incarnation: 7, seq: 1_000 },
    { peer: 'node-c', incarnation: 1_763_000_000_001, seq: 3 },
  ];
  const buf = encodePacket({ ...beat, echo }, key);
  assert.deepEqual(decodePacket(buf, key, 'testbed'), { ok: true, packet: { version: 2, ...beat, echo, reply: false } });
  // claiming to hear a node better than it did needs the key
  const t = Buffer.from(buf);
  t.writeBigUInt64BE(2_000n, t.length - 32 - 8 - 8 - 1 - 6 - 8);
  assert.equal(decodePacket(t, key, 'testbed').ok, false);
  assert.deepEqual(decodePacket(buf.subarray(0, buf.length - 40), key, 'testbed'), { ok: false, reason: 'malformed' });
  assert.throws(() => encodePacket({ ...beat, echo: [{ peer: '', incarnation: 1, seq: 1 }] }, key), /echo peer id/);
});

test('a version 1 heartbeat (no echo) is still read', () => {
  // version 1: the same header, no echo count, then the MAC over it
  const v2 = encodePacket(beat, key);
  const body = Buffer.from(v2.subarray(0, v2.length - 32 - 1));
  body[2] = 1;
  const v1 = Buffer.concat([body, createHmac('sha256', key).update(body).digest()]);
  assert.deepEqual(decodePacket(v1, key, 'testbed'), { ok: true, packet: { version: 1, ...beat, echo: [], reply: false } });
});

test('encoding refuses what cannot be sent', () => {
  assert.throws(() => encodePacket({ ...beat, seq: -1 }, key), /seq/);
  assert.throws(() => encodePacket({ ...beat, incarnation: 1.5 }, key), /incarnation/);
  assert.throws(() => encodePacket({ ...beat, from: '' }, key), /node id/);
  assert.throws(() => encodePacket({ ...beat, clusterId: 'x'.repeat(65) }, key), /cluster id/);
});

test('a reply (a heartbeat sent at once in answer to one) says so, and the flag is signed', () => {
  const echo = [{ peer: 'node-a', incarnation: 7, seq: 9 }];
  const buf = encodePacket({ ...beat, echo, reply: true }, key);
  const d = decodePacket(buf, key, 'testbed');
  assert.ok(d.ok);
  assert.equal(d.packet.reply, true);
  assert.deepEqual(d.packet.echo, echo);
  // turned into a plain heartbeat (or back) by flipping the type byte: the MAC no longer matches
  const flipped = Buffer.from(buf);
  flipped[3] = 1;
  assert.deepEqual(decodePacket(flipped, key, 'testbed'), { ok: false, reason: 'bad-mac' });
});
