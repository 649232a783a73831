import { headers as natsHeaders, type NatsConnection, type Subscription } from 'nats';
import type { Readable, Writable } from 'node:stream';
import { ErrorCode, TandemError, type Reply } from '@tandem/contracts';
import { toErrorBody } from './errors';

/**
 * Byte streams over NATS (zfs send → zfs receive between nodes): the sender sends chunks as
 * requests, each acknowledged once the receiver wrote it, with a small window in flight, so
 * a slow receiver slows the sender (backpressure) and nothing is buffered without bound.
 */
export const STREAM_CHUNK_BYTES = 512 * 1024;
const WINDOW = 4;
const H_SEQ = 'Tandem-Seq';
const H_END = 'Tandem-End';
const H_ABORT = 'Tandem-Abort';

const enc = new TextEncoder();
const dec = new TextDecoder();

function reply(value: Reply<unknown>): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

/** A receiver's answer; anything else (e.g. a JetStream ack because a stream captured the subject) is an error. */
function readReply<T>(data: Uint8Array, subject: string): T {
  let r: Reply<T> | undefined;
  try {
    r = JSON.parse(dec.decode(data)) as Reply<T>;
  } catch {
    r = undefined;
  }
  if (!r || typeof r.ok !== 'boolean') throw new TandemError(ErrorCode.StreamFailed, `unexpected answer on ${subject}: not a stream receiver`);
  if (!r.ok) throw TandemError.fromBody(r.error);
  return r.result;
}

export interface StreamReceiveOptions {
  /** Abort when no chunk arrives for this long. */
  idleTimeoutMs?: number;
  /** Called when the sender says the stream is complete; its result is the final reply. */
  finish: () => Promise<unknown>;
  /** Called on abort or failure so the sink's process can be killed. */
  abort: (reason: string) => void;
}

/** Serve one incoming stream on `subject`, writing its bytes into `sink` in order. */
export function receiveByteStream(nc: NatsConnection, subject: string, sink: Writable, opts: StreamReceiveOptions): { done: Promise<number>; subscription: Subscription } {
  const sub = nc.subscribe(subject);
  const idle = opts.idleTimeoutMs ?? 60_000;
  let bytes = 0;
  let expected = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      opts.abort(`no data for ${idle} ms`);
      sub.unsubscribe();
    }, idle);
  };
  const done = (async () => {
    arm();
    try {
      for await (const msg of sub) {
        arm();
        const h = msg.headers;
        if (h?.get(H_ABORT)) {
          opts.abort(`sender aborted: ${h.get(H_ABORT)}`);
          throw new TandemError(ErrorCode.StreamFailed, `sender aborted: ${h.get(H_ABORT)}`);
        }
        if (h?.get(H_END)) {
          sink.end();
          try {
            const result = await opts.finish();
            msg.respond(reply({ ok: true, result: { bytes, result } }));
          } catch (err) {
            msg.respond(reply({ ok: false, error: toErrorBody(err) }));
            throw err;
          }
          return bytes;
        }
        const seq = Number(h?.get(H_SEQ) ?? -1);
        if (seq !== expected) {
          const e = new TandemError(ErrorCode.StreamFailed, `stream chunk ${seq} arrived, expected ${expected}`);
          msg.respond(reply({ ok: false, error: e.toBody() }));
          opts.abort(e.message);
          throw e;
        }
        expected++;
        bytes += msg.data.length;
        const ok = sink.write(msg.data);
        if (!ok)
          await new Promise<void>((resolve, reject) => {
            sink.once('drain', resolve);
            sink.once('error', reject);
          });
        msg.respond(reply({ ok: true, result: null }));
      }
      throw new TandemError(ErrorCode.StreamFailed, 'stream closed before it was complete');
    } finally {
      clearTimeout(timer);
      sub.unsubscribe();
    }
  })();
  return { done, subscription: sub };
}

/** Push `source` to a receiver on `subject`; resolves with the receiver's final result. */
export async function sendByteStream(nc: NatsConnection, subject: string, source: Readable, chunkTimeoutMs = 60_000): Promise<{ bytes: number; result: unknown }> {
  let seq = 0;
  const inflight: Promise<void>[] = [];
  const send = async (data: Uint8Array, n: number) => {
    const h = natsHeaders();
    h.set(H_SEQ, String(n));
    const msg = await nc.request(subject, data, { timeout: chunkTimeoutMs, headers: h });
    readReply<unknown>(msg.data, subject);
  };
  try {
    let pending: Buffer = Buffer.alloc(0);
    for await (const chunk of source) {
      pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
      while (pending.length >= STREAM_CHUNK_BYTES) {
        inflight.push(send(pending.subarray(0, STREAM_CHUNK_BYTES), seq++));
        pending = pending.subarray(STREAM_CHUNK_BYTES);
        if (inflight.length >= WINDOW) await inflight.shift();
      }
    }
    if (pending.length > 0) inflight.push(send(pending, seq++));
    await Promise.all(inflight);
    const h = natsHeaders();
    h.set(H_END, '1');
    const msg = await nc.request(subject, new Uint8Array(0), { timeout: 10 * chunkTimeoutMs, headers: h });
    return readReply<{ bytes: number; result: unknown }>(msg.data, subject);
  } catch (err) {
    await Promise.allSettled(inflight);
    const h = natsHeaders();
    h.set(H_ABORT, (err as Error).message.slice(0, 200).replace(/[\r\n]/g, ' ') || 'error');
    nc.publish(subject, new Uint8Array(0), { headers: h });
    throw err instanceof TandemError ? err : new TandemError(ErrorCode.StreamFailed, `stream to ${subject} failed: ${(err as Error).message}`);
  }
}
