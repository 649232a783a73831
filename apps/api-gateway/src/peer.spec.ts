import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
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
  const gw = new PeerGateway('127.0.0.1', port, 40_000);
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
