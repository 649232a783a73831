import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * The heartbeat on the wire, the same bytes over UDP and over NATS. Version 1, big-endian:
 *
 *   0  'T' 'H'                 magic
 *   2  u8   version (1)
 *   3  u8   type (1 = heartbeat)
 *   4  u8   n, then n bytes    cluster id (UTF-8)
 *      u8   m, then m bytes    sender node id (UTF-8)
 *      u64  incarnation        grows on every start of the sender's heartbeat service
 *      u64  seq                grows with every heartbeat of that incarnation (from 1)
 *      f64  sentMs             the sender's monotonic clock, ms (for the record: never compared with ours)
 *      32 bytes                HMAC-SHA256 of everything before, with the cluster's heartbeat key
 *
 * Do not change the meaning of version 1: a new layout is a new version.
 */
export const PACKET_VERSION = 1;
const MAGIC0 = 0x54; // T
const MAGIC1 = 0x48; // H
const TYPE_HEARTBEAT = 1;
const MAC_LEN = 32;
const MAX_NAME = 64;

export interface HeartbeatPacket {
  version: number;
  clusterId: string;
  from: string;
  incarnation: number;
  seq: number;
  sentMs: number;
}

export type RejectReason = 'malformed' | 'wrong-version' | 'wrong-cluster' | 'bad-mac';
export type DecodeResult = { ok: true; packet: HeartbeatPacket } | { ok: false; reason: RejectReason };

/** The key heartbeats are signed with, derived from the cluster secret (never the secret itself). */
export function heartbeatKey(clusterSecret: string): Buffer {
  if (clusterSecret.length === 0) throw new Error('the cluster secret is empty');
  return Buffer.from(hkdfSync('sha256', Buffer.from(clusterSecret, 'utf8'), Buffer.from('tandem-heartbeat', 'utf8'), Buffer.from('hmac-sha256 v1', 'utf8'), 32));
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

export function encodePacket(p: Omit<HeartbeatPacket, 'version'>, key: Buffer): Buffer {
  const cluster = Buffer.from(p.clusterId, 'utf8');
  const from = Buffer.from(p.from, 'utf8');
  if (cluster.length === 0 || cluster.length > MAX_NAME) throw new Error(`cluster id must be 1-${MAX_NAME} bytes`);
  if (from.length === 0 || from.length > MAX_NAME) throw new Error(`node id must be 1-${MAX_NAME} bytes`);
  for (const [name, v] of [['incarnation', p.incarnation], ['seq', p.seq]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative safe integer`);
  }
  const body = Buffer.alloc(4 + 1 + cluster.length + 1 + from.length + 8 + 8 + 8);
  let o = 0;
  body[o++] = MAGIC0;
  body[o++] = MAGIC1;
  body[o++] = PACKET_VERSION;
  body[o++] = TYPE_HEARTBEAT;
  body[o++] = cluster.length;
  o += cluster.copy(body, o);
  body[o++] = from.length;
  o += from.copy(body, o);
  o = body.writeBigUInt64BE(BigInt(p.incarnation), o);
  o = body.writeBigUInt64BE(BigInt(p.seq), o);
  body.writeDoubleBE(p.sentMs, o);
  return Buffer.concat([body, mac(key, body)]);
}

/**
 * Parse and authenticate. Checks, in order: shape, version, cluster, MAC. Only a packet that
 * passes all of them is returned; the caller then checks the sender and the sequence.
 */
export function decodePacket(buf: Uint8Array, key: Buffer, clusterId: string): DecodeResult {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const bad = (reason: RejectReason): DecodeResult => ({ ok: false, reason });
  if (b.length < 4 + 2 + 24 + MAC_LEN || b[0] !== MAGIC0 || b[1] !== MAGIC1) return bad('malformed');
  if (b[2] !== PACKET_VERSION) return bad('wrong-version');
  if (b[3] !== TYPE_HEARTBEAT) return bad('malformed');
  let o = 4;
  const cl = b[o++];
  if (cl === 0 || o + cl > b.length) return bad('malformed');
  const cluster = b.subarray(o, o + cl).toString('utf8');
  o += cl;
  const fl = b[o++];
  if (fl === undefined || fl === 0 || o + fl + 24 + MAC_LEN !== b.length) return bad('malformed');
  if (cluster !== clusterId) return bad('wrong-cluster');
  const body = b.subarray(0, b.length - MAC_LEN);
  const got = b.subarray(b.length - MAC_LEN);
  if (!timingSafeEqual(mac(key, body), got)) return bad('bad-mac');
  const from = b.subarray(o, o + fl).toString('utf8');
  o += fl;
  const incarnation = b.readBigUInt64BE(o);
  const seq = b.readBigUInt64BE(o + 8);
  const sentMs = b.readDoubleBE(o + 16);
  if (incarnation > BigInt(Number.MAX_SAFE_INTEGER) || seq > BigInt(Number.MAX_SAFE_INTEGER)) return bad('malformed');
  return { ok: true, packet: { version: PACKET_VERSION, clusterId: cluster, from, incarnation: Number(incarnation), seq: Number(seq), sentMs } };
}
