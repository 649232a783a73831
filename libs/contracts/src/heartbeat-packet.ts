import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * The heartbeat on the wire, the same bytes over UDP and over NATS. Big-endian:
 *
 *   0  'T' 'H'                 magic
 *   2  u8   version (1)
 *   3  u8   type (1 = heartbeat; 2 = reply: a heartbeat sent at once in answer to a peer's
 *               type-1 heartbeat, so that its echo reaches that peer without waiting for the
 *               next interval; a reply is never answered)
 *   4  u8   n, then n bytes    cluster id (UTF-8)
 *      u8   m, then m bytes    sender node id (UTF-8)
 *      u64  incarnation        grows on every start of the sender's heartbeat service
 *      u64  seq                grows with every heartbeat of that incarnation (from 1)
 *      f64  sentMs             the sender's monotonic clock, ms (for the record: never compared with ours)
 *   version 2 only — the echo: what the sender last heard from each peer
 *      u8   k, then k times:   u8 len + peer id, u64 incarnation, u64 seq
 *                              (the newest heartbeat of that peer the sender accepted, any channel)
 *      32 bytes                HMAC-SHA256 of everything before, with the cluster's heartbeat key
 *
 * Version 1 (no echo) is still read. Do not change the meaning of a version: a new layout is a
 * new version. A node reads its own entry of a peer's echo to know that the peer still hears it.
 */
export const PACKET_VERSION = 2;
const MAGIC0 = 0x54; // T
const MAGIC1 = 0x48; // H
const TYPE_HEARTBEAT = 1;
const TYPE_REPLY = 2;
const MAC_LEN = 32;
const MAX_NAME = 64;

export interface HeartbeatPacket {
  version: number;
  clusterId: string;
  from: string;
  incarnation: number;
  seq: number;
  sentMs: number;
  /** The newest heartbeat the sender accepted from each peer (version 2; empty for version 1). */
  echo: EchoEntry[];
  /** Sent in answer to a heartbeat (type 2): not to be answered. */
  reply: boolean;
}

export interface EchoEntry {
  peer: string;
  incarnation: number;
  seq: number;
}
const MAX_ECHO = 64;

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

export function encodePacket(p: Omit<HeartbeatPacket, 'version' | 'echo' | 'reply'> & { echo?: EchoEntry[]; reply?: boolean }, key: Buffer): Buffer {
  const cluster = Buffer.from(p.clusterId, 'utf8');
  const from = Buffer.from(p.from, 'utf8');
  if (cluster.length === 0 || cluster.length > MAX_NAME) throw new Error(`cluster id must be 1-${MAX_NAME} bytes`);
  if (from.length === 0 || from.length > MAX_NAME) throw new Error(`node id must be 1-${MAX_NAME} bytes`);
  for (const [name, v] of [
    ['incarnation', p.incarnation],
    ['seq', p.seq],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative safe integer`);
  }
  const echo = p.echo ?? [];
  if (echo.length > MAX_ECHO) throw new Error(`at most ${MAX_ECHO} echo entries`);
  const echoIds = echo.map((e) => Buffer.from(e.peer, 'utf8'));
  for (const [i, e] of echo.entries()) {
    if (echoIds[i].length === 0 || echoIds[i].length > MAX_NAME) throw new Error(`echo peer id must be 1-${MAX_NAME} bytes`);
    if (!Number.isSafeInteger(e.incarnation) || e.incarnation < 0 || !Number.isSafeInteger(e.seq) || e.seq < 0) throw new Error('echo incarnation and seq must be non-negative safe integers');
  }
  const echoLen = 1 + echoIds.reduce((n, id) => n + 1 + id.length + 16, 0);
  const body = Buffer.alloc(4 + 1 + cluster.length + 1 + from.length + 8 + 8 + 8 + echoLen);
  let o = 0;
  body[o++] = MAGIC0;
  body[o++] = MAGIC1;
  body[o++] = PACKET_VERSION;
  body[o++] = p.reply ? TYPE_REPLY : TYPE_HEARTBEAT;
  body[o++] = cluster.length;
  o += cluster.copy(body, o);
  body[o++] = from.length;
  o += from.copy(body, o);
  o = body.writeBigUInt64BE(BigInt(p.incarnation), o);
  o = body.writeBigUInt64BE(BigInt(p.seq), o);
  o = body.writeDoubleBE(p.sentMs, o);
  body[o++] = echo.length;
  for (const [i, e] of echo.entries()) {
    body[o++] = echoIds[i].length;
    o += echoIds[i].copy(body, o);
    o = body.writeBigUInt64BE(BigInt(e.incarnation), o);
    o = body.writeBigUInt64BE(BigInt(e.seq), o);
  }
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
  const version = b[2];
  if (version !== 1 && version !== 2) return bad('wrong-version');
  const type = b[3];
  if (type !== TYPE_HEARTBEAT && !(type === TYPE_REPLY && version === 2)) return bad('malformed');
  let o = 4;
  const cl = b[o++];
  if (cl === 0 || o + cl > b.length) return bad('malformed');
  const cluster = b.subarray(o, o + cl).toString('utf8');
  o += cl;
  const fl = b[o++];
  if (fl === undefined || fl === 0 || (version === 1 ? o + fl + 24 + MAC_LEN !== b.length : o + fl + 24 + 1 + MAC_LEN > b.length)) return bad('malformed');
  const from = b.subarray(o, o + fl).toString('utf8');
  o += fl;
  const incarnation = b.readBigUInt64BE(o);
  const seq = b.readBigUInt64BE(o + 8);
  const sentMs = b.readDoubleBE(o + 16);
  o += 24;
  // the echo's shape is checked before the MAC, like the rest of the shape
  const echo: EchoEntry[] = [];
  if (version === 2) {
    const end = b.length - MAC_LEN;
    const k = b[o++];
    for (let i = 0; i < k; i++) {
      const l = b[o++];
      if (l === undefined || l === 0 || o + l + 16 > end) return bad('malformed');
      const peer = b.subarray(o, o + l).toString('utf8');
      o += l;
      const inc = b.readBigUInt64BE(o);
      const sq = b.readBigUInt64BE(o + 8);
      o += 16;
      if (inc > BigInt(Number.MAX_SAFE_INTEGER) || sq > BigInt(Number.MAX_SAFE_INTEGER)) return bad('malformed');
      echo.push({ peer, incarnation: Number(inc), seq: Number(sq) });
    }
    if (o !== end) return bad('malformed');
  }
  if (cluster !== clusterId) return bad('wrong-cluster');
  const body = b.subarray(0, b.length - MAC_LEN);
  const got = b.subarray(b.length - MAC_LEN);
  if (!timingSafeEqual(mac(key, body), got)) return bad('bad-mac');
  if (incarnation > BigInt(Number.MAX_SAFE_INTEGER) || seq > BigInt(Number.MAX_SAFE_INTEGER)) return bad('malformed');
  return { ok: true, packet: { version, clusterId: cluster, from, incarnation: Number(incarnation), seq: Number(seq), sentMs, echo, reply: type === TYPE_REPLY } };
}
