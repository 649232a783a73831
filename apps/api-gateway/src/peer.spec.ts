import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { certificateFingerprint, issueCertificate, makeCa } from '@tandem/messaging';
import { ProblemException } from './problem';
import { PeerGateway, hostPort, unreachableReason } from './peer';

test('the peer address: IPv6 in brackets', () => {
  assert.equal(hostPort('10.77.1.11', 8080), '10.77.1.11:8080');
  assert.equal(hostPort('fd00::11', 8080), '[fd00::11]:8080');
});

test('why the peer cannot be reached, in a few words', () => {
  const fetchFailed = (code: string) => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(`connect ${code}`), { code }) });
  assert.equal(unreachableReason(fetchFailed('ECONNREFUSED'), 5_000), 'connection refused');
  assert.equal(unreachableReason(fetchFailed('EHOSTUNREACH'), 5_000), 'no route to host');
  assert.equal(unreachableReason(fetchFailed('UND_ERR_CONNECT_TIMEOUT'), 5_000), 'connection timed out');
  assert.equal(unreachableReason(fetchFailed('EWHATEVER'), 5_000), 'EWHATEVER');
  assert.equal(unreachableReason(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 5_000), 'no answer within 5 s');
  assert.equal(unreachableReason(new Error('boom'), 5_000), 'boom');
});

test('a port nobody listens on: 502 naming peer, saying what to check', async () => {
  // A port that was free a moment ago: connection refused, from the real network stack.
  const port = await new Promise<number>((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => ok(p));
    });
  });
  const gw = new PeerGateway('127.0.0.1', port, 40_000, undefined);
  await assert.rejects(gw.token('pw'), (e: unknown) => {
    const p = (e as ProblemException).problem;
    return (
      e instanceof ProblemException &&
      p.status === 502 &&
      p.field === 'peer' &&
      p.detail === `cannot reach the node at 127.0.0.1:${port}: connection refused — check the address and that its api-gateway runs`
    );
  });
});

/** An HTTPS server on 127.0.0.1 answering POST /api/v1/auth/token with a token; what it was sent is kept. */
async function httpsPeer(): Promise<{ server: Server; port: number; fingerprint: string; received: string[] }> {
  const ca = await makeCa('peer test');
  const leaf = await issueCertificate(ca, 'node-a', ['127.0.0.1']);
  const received: string[] = [];
  const server = createHttpsServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'tok', expiresAt: new Date().toISOString() }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, fingerprint: certificateFingerprint(leaf.cert), received };
}

test('the join speaks HTTPS and sends the password only to the certificate pinned: none pinned, 400 naming the one shown; another, 409; the right one, answered', async () => {
  const peer = await httpsPeer();
  try {
    const none = new PeerGateway('127.0.0.1', peer.port, 40_000, undefined);
    await assert.rejects(none.token('secret-pw'), (e: unknown) => {
      const p = (e as ProblemException).problem;
      return p.status === 400 && p.field === 'peerFingerprint' && p.detail.includes(peer.fingerprint) && /nothing was sent/.test(p.detail);
    });
    const other = 'AA:'.repeat(31) + 'AA';
    const wrong = new PeerGateway('127.0.0.1', peer.port, 40_000, other);
    await assert.rejects(wrong.token('secret-pw'), (e: unknown) => {
      const p = (e as ProblemException).problem;
      return p.status === 409 && p.title === 'HOST_KEY_REFUSED' && p.field === 'peerFingerprint' && p.detail.includes(peer.fingerprint) && p.detail.includes(other);
    });
    assert.deepEqual(peer.received, [], 'nothing reached the peer, the password least of all');
    const right = new PeerGateway('127.0.0.1', peer.port, 40_000, peer.fingerprint.toLowerCase());
    assert.equal(await right.token('secret-pw'), 'tok');
    assert.deepEqual(peer.received, ['POST /api/v1/auth/token {"password":"secret-pw"}']);
  } finally {
    peer.server.close();
  }
});

test('a peer that answers plain HTTP is refused: a join never speaks it', async () => {
  const received: string[] = [];
  const server = createHttpServer((req, res) => {
    received.push(req.url ?? '');
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const gw = new PeerGateway('127.0.0.1', (server.address() as { port: number }).port, 40_000, 'AA:'.repeat(31) + 'AA');
    await assert.rejects(gw.token('secret-pw'), (e: unknown) => {
      const p = (e as ProblemException).problem;
      return p.status === 502 && p.field === 'peer' && /does not speak HTTPS/.test(p.detail);
    });
    assert.deepEqual(received, []);
  } finally {
    server.close();
  }
});
