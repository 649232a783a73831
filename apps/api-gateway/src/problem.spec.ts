import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestException, NotFoundException, type ArgumentsHost } from '@nestjs/common';
import { z } from 'zod';
import { ErrorCode, TandemError, poolOpRequests } from '@tandem/contracts';
import { ProblemException, ProblemFilter, httpStatusFor, problem, toProblem } from './problem';

test('every wire error code has its HTTP status; unknown codes are 502', () => {
  const expected: Record<string, number> = {
    INVALID_ARGUMENT: 400,
    UNAUTHORIZED: 401,
    FORBIDDEN: 403,
    TOO_MANY_REQUESTS: 429,
    NOT_FOUND: 404,
    POOL_NOT_FOUND: 404,
    POOL_NOT_MANAGED: 404,
    UNKNOWN_NODE: 404,
    DATASET_NOT_FOUND: 404,
    SNAPSHOT_NOT_FOUND: 404,
    IN_TRANSITION: 409,
    ALREADY_EXISTS: 409,
    ADDRESS_IN_USE: 409,
    POOL_BUSY: 409,
    STALE_EPOCH: 409,
    POOL_NOT_IMPORTABLE: 409,
    POOL_IMPORTED_ELSEWHERE: 409,
    SYNC_LOCKED: 409,
    HOST_KEY_REFUSED: 409,
    INTERFACE_NOT_FOUND: 400,
    UNAVAILABLE: 503,
    NOT_LEADER: 503,
    TIMEOUT: 504,
  };
  for (const code of Object.values(ErrorCode)) assert.equal(httpStatusFor(code), expected[code] ?? 502, code);
  assert.equal(httpStatusFor('SOMETHING_NEW'), 502);
});

test('a TandemError becomes problem details with its field and the tool output', () => {
  const p = toProblem(new TandemError(ErrorCode.PoolBusy, 'pool tank is busy', 'pool', 'cannot export: pool is busy'));
  assert.deepEqual(p, {
    type: 'urn:tandem:error:POOL_BUSY',
    title: 'POOL_BUSY',
    status: 409,
    detail: 'pool tank is busy',
    field: 'pool',
    output: 'cannot export: pool is busy',
  });
  const q = toProblem(new TandemError(ErrorCode.Unavailable, 'nobody answers'));
  assert.deepEqual(q, { type: 'urn:tandem:error:UNAVAILABLE', title: 'UNAVAILABLE', status: 503, detail: 'nobody answers' });
  assert.equal('field' in q, false);
});

test('zod errors are 400 naming the field path joined with "."', () => {
  const r = poolOpRequests['pool.attach'].safeParse({ pool: 'tank', node: 'node-a', vips: ['cli0:10.0.0.1/24', 'cli0:999.1.1.1/24'] });
  assert.equal(r.success, false);
  const p = toProblem(r.error);
  assert.equal(p.status, 400);
  assert.equal(p.title, 'INVALID_ARGUMENT');
  assert.equal(p.field, 'vips.1');
  assert.match(p.detail, /^vips\.1: "999\.1\.1\.1\/24" is not ADDRESS\/PREFIX/);

  const nested = z.object({ shares: z.array(z.object({ name: z.string().min(2) })) }).safeParse({ shares: [{ name: 'ok' }, { name: 'x' }] });
  assert.equal(toProblem(nested.error).field, 'shares.1.name');

  const unknown = poolOpRequests['pool.move'].safeParse({ pool: 'tank', to: 'node-b', force: true });
  assert.deepEqual([toProblem(unknown.error).field, toProblem(unknown.error).detail], ['force', 'force: unknown field']);

  const missing = poolOpRequests['pool.move'].safeParse({ pool: 'tank' });
  assert.deepEqual([toProblem(missing.error).field, toProblem(missing.error).detail], ['to', 'to: is required']);
});

test('Nest HTTP exceptions and unexpected errors', () => {
  assert.deepEqual(toProblem(new NotFoundException('Cannot GET /x')), { type: 'urn:tandem:error:NOT_FOUND', title: 'NOT_FOUND', status: 404, detail: 'Cannot GET /x' });
  const bad = toProblem(new BadRequestException('Unexpected token } in JSON at position 3'));
  assert.equal(bad.title, 'INVALID_ARGUMENT');
  assert.match(bad.detail, /^the body is not valid JSON/);
  const boom = toProblem(new Error('secret internals'));
  assert.equal(boom.status, 500);
  assert.equal(boom.title, 'INTERNAL');
  assert.ok(!boom.detail.includes('secret internals'), 'internals are logged, not answered');
  const made = problem(ErrorCode.Timeout, 504, 'slow', { traceId: 'ab'.repeat(16) });
  assert.equal(toProblem(new ProblemException(made)), made);
});

test('the filter answers application/problem+json (and a challenge on 401)', () => {
  const sent: { status?: number; headers: Record<string, string>; body?: string } = { headers: {} };
  const res = {
    headersSent: false,
    status(s: number) {
      sent.status = s;
      return this;
    },
    setHeader(k: string, v: string) {
      sent.headers[k.toLowerCase()] = v;
      return this;
    },
    send(b: string) {
      sent.body = b;
    },
  };
  const host = { getType: () => 'http', switchToHttp: () => ({ getResponse: () => res }) } as unknown as ArgumentsHost;
  new ProblemFilter().catch(new TandemError(ErrorCode.Unauthorized, 'wrong password'), host);
  assert.equal(sent.status, 401);
  assert.equal(sent.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.match(sent.headers['www-authenticate'], /^Bearer/);
  assert.deepEqual(JSON.parse(sent.body!), { type: 'urn:tandem:error:UNAUTHORIZED', title: 'UNAUTHORIZED', status: 401, detail: 'wrong password' });
});
