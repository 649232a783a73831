import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Request, Response } from 'express';
import { ErrorCode, TandemError } from '@tandem/contracts';
import type { ServiceContext } from '@tandem/service-kit';
import { EventsController, sseFrame } from './events.controller';

test("an SSE message's id is the event's sequence in the stream; data the envelope on one line", () => {
  const data = new TextEncoder().encode(JSON.stringify({ id: 'e1', data: { a: 'x\ny' } }));
  assert.equal(sseFrame({ data, seq: 42 }), 'id: 42\ndata: {"id":"e1","data":{"a":"x\\ny"}}\n\n');
  assert.equal(sseFrame({ data: new TextEncoder().encode('not json'), seq: 1 }), null);
  assert.equal(sseFrame({ data: new TextEncoder().encode('7'), seq: 1 }), null);
});

test('a feed that cannot follow the events stream is a 503 problem, not an empty 200', async () => {
  const ctx = { nc: { jetstreamManager: () => Promise.reject(new Error('JetStream not enabled')) } } as unknown as ServiceContext;
  const controller = new EventsController(ctx, { maxEventStreams: 2 });
  const written: string[] = [];
  const res = {
    headersSent: false,
    writableEnded: false,
    on: () => res,
    end: () => void written.push('end'),
    write: (s: string) => void written.push(s),
  } as unknown as Response;
  const req = { header: () => undefined, on: () => req } as unknown as Request;
  await assert.rejects(
    controller.stream({}, req, res),
    (e: unknown) => e instanceof TandemError && e.code === ErrorCode.Unavailable && /cannot follow the TANDEM_EVENTS stream: JetStream not enabled/.test(e.message),
  );
  assert.deepEqual(written, [], 'nothing written: the error is the answer');
  // its place is free again
  for (let i = 0; i < 3; i++) await assert.rejects(controller.stream({}, req, res), (e: unknown) => e instanceof TandemError && e.code === ErrorCode.Unavailable);
  // a bad filter is refused before anything is asked of NATS
  await assert.rejects(controller.stream({ entity: 'pool', id: 'a.b' }, req, res), (e: unknown) => e instanceof TandemError && e.code === ErrorCode.InvalidArgument && e.field === 'id');
});
