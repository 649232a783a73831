import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { certificateFingerprint, issueCertificate, makeCa } from '@tandem/messaging';
import { ApiClient, ApiError } from './client';

/** An https API on 127.0.0.1 answering every GET with `{"ok":true}`, its certificate signed by a CA of its own. */
async function httpsApi(): Promise<{ server: Server; base: string; ca: string; fingerprint: string; requests: string[] }> {
  const ca = await makeCa('cli test');
  const leaf = await issueCertificate(ca, 'node-a', ['127.0.0.1']);
  const requests: string[] = [];
  const server = createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, base: `https://127.0.0.1:${(server.address() as { port: number }).port}`, ca: ca.cert, fingerprint: certificateFingerprint(leaf.cert), requests };
}

test('an https API is trusted by its CA or by its certificate fingerprint, and by nothing else; the refusal says what to give', async () => {
  const api = await httpsApi();
  try {
    await assert.rejects(new ApiClient(api.base).get('/api/v1/pools'), (e: unknown) => {
      const d = (e as ApiError).problem.detail;
      return e instanceof ApiError && /is not trusted/.test(d) && /--api-ca FILE/.test(d) && /--api-fingerprint FP/.test(d);
    });
    assert.deepEqual(await new ApiClient(api.base, undefined, undefined, { ca: api.ca }).get('/api/v1/pools'), { ok: true });
    assert.deepEqual(await new ApiClient(api.base, undefined, undefined, { fingerprint: api.fingerprint.toLowerCase() }).get('/api/v1/pools'), { ok: true });
    const other = 'AB:'.repeat(31) + 'AB';
    await assert.rejects(new ApiClient(api.base, undefined, undefined, { fingerprint: other }).get('/api/v1/pools'), (e: unknown) => {
      const d = (e as ApiError).problem.detail;
      return e instanceof ApiError && d.includes(api.fingerprint) && d.includes(other);
    });
    const otherCa = await makeCa('someone else');
    await assert.rejects(
      new ApiClient(api.base, undefined, undefined, { ca: otherCa.cert }).get('/api/v1/pools'),
      (e: unknown) => e instanceof ApiError && /is not trusted/.test((e as ApiError).problem.detail),
    );
    assert.equal(api.requests.length, 2, 'only the two trusted clients were answered');
  } finally {
    api.server.close();
    api.server.closeAllConnections();
  }
});
