import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NatsError } from 'nats';
import { z } from 'zod';
import { ErrorCode, TandemError } from '@tandem/contracts';
import { toErrorBody } from './errors';

test('a TandemError crosses the wire with its own code and field', () => {
  assert.deepEqual(toErrorBody(new TandemError(ErrorCode.NotFound, 'pool tank not found', 'pool')), { code: ErrorCode.NotFound, message: 'pool tank not found', field: 'pool' });
});

test('a validation error names the field', () => {
  const r = z.object({ pool: z.string() }).safeParse({ pool: 1 });
  assert.ok(!r.success);
  const b = toErrorBody(r.error);
  assert.equal(b.code, ErrorCode.InvalidArgument);
  assert.equal(b.field, 'pool');
});

test('a JetStream 503 (stream leader election) is UNAVAILABLE and says to try again', () => {
  const b = toErrorBody(new NatsError('503', '503'));
  assert.equal(b.code, ErrorCode.Unavailable);
  assert.match(b.message, /try again/);
  assert.equal(toErrorBody(new Error('no responders available for request')).code, ErrorCode.Unavailable);
});

test('a NATS timeout is TIMEOUT; anything else is INTERNAL', () => {
  assert.equal(toErrorBody(new NatsError('timeout', 'TIMEOUT')).code, ErrorCode.Timeout);
  assert.equal(toErrorBody(new Error('boom')).code, ErrorCode.Internal);
});
