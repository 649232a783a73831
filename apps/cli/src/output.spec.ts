import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HaPool } from '@tandem/contracts';
import { SseParser } from './client';
import { Progress, eventLine, hintFor, poolDetails, poolTable, seconds, table } from './output';

const tank: HaPool = {
  name: 'tank',
  state: 'serving',
  node: 'node-a',
  operation: null,
  reason: null,
  vips: [{ interface: 'cli0', address: '10.77.3.50', prefix: 24 }],
  shares: [{ name: 'data', protocol: 'smb', path: '', readOnly: false }],
  fc: false,
  epoch: 3,
  mountpoint: '/tank',
  updatedAt: '2026-01-01T00:00:00.000Z',
};

test('tables line up', () => {
  assert.equal(table([['A', 'BB'], ['CCC', 'D']]), 'A    BB\nCCC  D\n');
  const t = poolTable([tank, { ...tank, name: 'backup', state: 'inactive', node: null, reason: 'exported by cli:alice@h1', vips: [], fc: true, shares: [] }]);
  const lines = t.trimEnd().split('\n');
  assert.match(lines[0], /^POOL\s+STATE\s+NODE\s+FLOATING IPS\s+SHARES\s+EPOCH\s+NOTE$/);
  assert.match(lines[1], /^backup\s+inactive\s+-\s+fc\s+-\s+3\s+exported by cli:alice@h1$/);
  assert.match(lines[2], /^tank\s+serving\s+node-a\s+10\.77\.3\.50\/24\s+data\/smb\s+3$/);
  assert.match(poolTable([]), /no HA pools/);
  assert.match(poolDetails(tank), /floating IPs:\s+10\.77\.3\.50\/24 on cli0/);
});

test('durations', () => {
  assert.equal(seconds(1_400), '1.4 s');
  assert.equal(seconds(42_400), '42 s');
});

test('server-sent events split across chunks', () => {
  const got: string[] = [];
  const p = new SseParser((d) => got.push(d));
  p.push(': tandem event feed\nretry: 2000\n\nid: e1\nda');
  p.push('ta: {"a":1}\n');
  p.push('\ndata: {"b"');
  assert.deepEqual(got, ['{"a":1}']);
  p.push(':2}\r\n\r\n');
  assert.deepEqual(got, ['{"a":1}', '{"b":2}']);
});

test('event lines and hints', () => {
  const line = eventLine({ schema: 'tandem.pool.changed/1', at: '2026-01-01T10:00:00.123Z', entity: { kind: 'pool', id: 'tank' }, source: 'resource-manager@node-a', data: { pool: { name: 'tank' } } });
  assert.match(line, /^\d\d:\d\d:\d\d\.123  pool\.changed\s+pool\/tank\s+resource-manager@node-a\s+\{"pool":\{"name":"tank"\}\}$/);
  const unreachable = { type: 'urn:tandem:error:UNAVAILABLE', title: 'UNAVAILABLE', status: 0, detail: 'x' };
  assert.match(hintFor(unreachable, { api: 'http://h:8080' }) ?? '', /api-gateway running at http:\/\/h:8080/);
  assert.match(hintFor({ ...unreachable, status: 503 }, { api: 'http://h:8080' }) ?? '', /resource-manager/);
  assert.match(hintFor({ ...unreachable, title: 'IN_TRANSITION', status: 409 }, { api: '' }) ?? '', /wait/);
});

test('the progress line is redrawn on a terminal, printed once otherwise', () => {
  const tty: string[] = [];
  const p = new Progress({ write: (s: string) => tty.push(s), isTTY: true }, 'moving tank to node-b');
  assert.ok(p.stop() >= 0);
  assert.deepEqual(tty, ['\r\x1b[2Kmoving tank to node-b …', '\r\x1b[2K']);
  const plain: string[] = [];
  new Progress({ write: (s: string) => plain.push(s), isTTY: false }, 'moving tank to node-b').stop();
  assert.deepEqual(plain, ['moving tank to node-b …\n']);
});
