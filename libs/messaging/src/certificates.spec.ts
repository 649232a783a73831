import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { CertificateError, certificateFingerprint, certificateNames, ensureNodeCertificate, issueCertificate, makeCa } from './certificates';

/** A TLS handshake to a server on 127.0.0.1 holding `server`, the client trusting `ca`: null when it verified, else the error. */
async function handshake(server: { cert: string; key: string }, ca: string): Promise<Error | null> {
  const srv = createServer({ cert: server.cert, key: server.key }, (s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    return await new Promise<Error | null>((resolve) => {
      const s: TLSSocket = connect({ host: '127.0.0.1', port, ca }, () => {
        s.end();
        resolve(null);
      });
      s.on('error', (e) => resolve(e));
    });
  } finally {
    srv.close();
  }
}

test('a node certificate signed by the CA verifies for its addresses and names; against another CA it does not', async () => {
  const ca = await makeCa('Tandem test CA');
  const node = await issueCertificate(ca, 'node-a', ['127.0.0.1', '10.77.2.11', 'node-a.example']);
  assert.deepEqual(certificateNames(node.cert).sort(), ['10.77.2.11', '127.0.0.1', 'node-a', 'node-a.example'].sort());
  assert.equal(await handshake(node, ca.cert), null, 'verifies by IP');
  const other = await makeCa('someone else');
  const err = await handshake(node, other.cert);
  assert.ok(err && /self.signed|unable to verify|certificate/i.test(err.message), `another CA: ${err?.message}`);
  const notNamed = await issueCertificate(ca, 'node-b', ['10.77.2.12']);
  const err2 = await handshake(notNamed, ca.cert);
  assert.ok(err2 && /IP: 127.0.0.1 is not in the cert's list|altnames/i.test(err2.message), `127.0.0.1 not named: ${err2?.message}`);
});

test('a fingerprint is SHA-256 in colon-separated hex, and differs between certificates', async () => {
  const ca = await makeCa('Tandem test CA');
  const a = certificateFingerprint(ca.cert);
  assert.match(a, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.notEqual(a, certificateFingerprint((await issueCertificate(ca, 'node-a', [])).cert));
  assert.throws(() => certificateFingerprint('not a certificate'), CertificateError);
});

test('bad names and addresses are refused naming the field', async () => {
  const ca = await makeCa('Tandem test CA');
  await assert.rejects(issueCertificate(ca, 'node-a', ['10.0.0.1;rm -rf /']), (e: CertificateError) => e.field === 'address');
  await assert.rejects(issueCertificate(ca, '../x', []), (e: CertificateError) => e.field === 'name');
});

test('ensureNodeCertificate makes the CA once, keeps a certificate that names every address, and makes a new one when an address is added', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-certs-'));
  try {
    const first = await ensureNodeCertificate(dir, 'node-a', ['127.0.0.1', '10.77.2.11']);
    assert.equal(first.written.length, 4);
    assert.equal(statSync(first.files.key).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'ca.key')).mode & 0o777, 0o600);
    const again = await ensureNodeCertificate(dir, 'node-a', ['10.77.2.11']);
    assert.deepEqual(again.written, [], 'nothing rewritten');
    const caBefore = readFileSync(first.files.ca, 'utf8');
    const b = await ensureNodeCertificate(dir, 'node-b', ['10.77.2.12']);
    assert.deepEqual(b.written, [b.files.cert, b.files.key], 'the same CA signs the second node');
    assert.equal(readFileSync(b.files.ca, 'utf8'), caBefore);
    const fresh = join(dir, 'fresh');
    await assert.rejects(ensureNodeCertificate(fresh, 'node-c', ['10.0.0.1;x']), (e: CertificateError) => e.field === 'address');
    assert.ok(!existsSync(fresh), 'a bad address makes no CA either');
    const more = await ensureNodeCertificate(dir, 'node-a', ['127.0.0.1', '10.77.2.11', '10.77.1.11']);
    assert.deepEqual(more.written, [first.files.cert, first.files.key]);
    assert.ok(certificateNames(readFileSync(first.files.cert, 'utf8')).includes('10.77.1.11'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
