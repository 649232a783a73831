import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { poolRequest } from './pools.controller';

function invalid(fn: () => unknown, field: string, re?: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InvalidArgument && e.field === field && (!re || re.test(e.message)));
}

test('the validated input is what is forwarded: vips stay strings for the resource-manager to parse', () => {
  const body = { pool: 'tank', node: 'node-a', vips: ['cli0:10.77.3.50/24'], shares: [{ name: 'data', protocol: 'smb', guest: true }] };
  assert.deepEqual(poolRequest('pool.attach', body, { actor: 'api@node-a' }), { ...body, actor: 'api@node-a' });
  assert.deepEqual(poolRequest('pool.move', { to: 'node-b' }, { pool: 'tank', actor: 'cli:alice@h1' }), { to: 'node-b', pool: 'tank', actor: 'cli:alice@h1' });
  assert.deepEqual(poolRequest('pool.detach', undefined, { pool: 'tank', actor: 'x' }), { pool: 'tank', actor: 'x' });
});

test('bad bodies are refused naming the field, before anything is sent', () => {
  invalid(() => poolRequest('pool.attach', { pool: '; rm -rf /', node: 'node-a', vips: ['cli0:10.0.0.1/24'] }, { actor: 'a' }), 'pool');
  invalid(() => poolRequest('pool.attach', { pool: 'tank', node: 'node-a', vips: ['cli0:999.1.1.1/24'] }, { actor: 'a' }), 'vips.0', /999\.1\.1\.1/);
  invalid(() => poolRequest('pool.attach', { pool: 'tank', node: 'node-a' }, { actor: 'a' }), 'vips', /--fc/);
  invalid(() => poolRequest('pool.attach', { pool: 'tank', node: 'node-a', fc: true, shares: [{ name: 'd', protocol: 'smb', path: '../etc' }] }, { actor: 'a' }), 'shares.0.path');
  invalid(() => poolRequest('pool.move', { to: '$(reboot)' }, { pool: 'tank', actor: 'a' }), 'to');
  invalid(() => poolRequest('pool.move', { to: 'node-b' }, { pool: 'mirror', actor: 'a' }), 'pool', /reserved/);
  invalid(() => poolRequest('pool.move', ['node-b'], { pool: 'tank', actor: 'a' }), '(body)');
  invalid(() => poolRequest('pool.move', 'node-b', { pool: 'tank', actor: 'a' }), '(body)');
  invalid(() => poolRequest('pool.move', { to: 'node-b', force: true }, { pool: 'tank', actor: 'a' }), 'force', /unknown field/);
});

test('the body cannot set what the gateway sets: actor, or the pool of the path', () => {
  invalid(() => poolRequest('pool.move', { to: 'node-b', actor: 'someone-else' }, { pool: 'tank', actor: 'api@node-a' }), 'actor', /X-Tandem-Actor/i);
  invalid(() => poolRequest('pool.export', { pool: 'other' }, { pool: 'tank', actor: 'api@node-a' }), 'pool', /path/);
});
