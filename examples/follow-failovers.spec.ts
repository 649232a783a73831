import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from 'nats';
import { EVENTS_STREAM, EVENT_EXAMPLES, Events, subjectFor } from '@tandem/contracts';
import { DAY_MS, FAILOVER_SUBJECTS, POOL_EVENTS, consumerFilter, followFailovers, formatFailover, parseArguments, parseFailover, type Failover } from './follow-failovers';

const failedOver = { ...EVENT_EXAMPLES.poolFailedOver, at: '2026-12-04T10:00:00.000Z' };
const AT = failedOver.at;
const failoverFailed = { ...failedOver, schema: Events.poolFailoverFailed.schema, id: 'e1a2b3c4-0000-4000-8000-000000000002', data: { from: 'node-a', reason: 'no node can run it' } };
const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

test('the command line: servers (repeated or comma-separated), a seed or a creds file, the CA, how far back', () => {
  assert.deepEqual(parseArguments(['--servers', 'nats://a:4222,nats://b:4222', '--servers', 'nats://c:4222', '--seed', 's.seed', '--ca', 'ca.pem']), {
    servers: ['nats://a:4222', 'nats://b:4222', 'nats://c:4222'],
    auth: { seed: 's.seed' },
    ca: 'ca.pem',
    sinceHours: 24,
  });
  assert.deepEqual(parseArguments(['--servers', 'nats://a:4222', '--creds', 'i.creds', '--ca', 'ca.pem', '--since-hours', '1.5']).auth, { creds: 'i.creds' });
  assert.equal(parseArguments(['--servers', 'nats://a:4222', '--creds', 'i.creds', '--ca', 'ca.pem', '--since-hours', '1.5']).sinceHours, 1.5);
  assert.throws(() => parseArguments(['--seed', 's', '--ca', 'c']), /--servers is missing/);
  assert.throws(() => parseArguments(['--servers', 'nats://a:4222', '--ca', 'c']), /either --seed or --creds/);
  assert.throws(() => parseArguments(['--servers', 'nats://a:4222', '--seed', 's', '--creds', 'c', '--ca', 'c']), /either --seed or --creds/);
  assert.throws(() => parseArguments(['--servers', 'nats://a:4222', '--seed', 's']), /--ca is missing/);
  assert.throws(() => parseArguments(['--servers', 'nats://a:4222', '--seed', 's', '--ca', 'c', '--since-hours', 'yesterday']), /not a number of hours/);
  assert.throws(() => parseArguments(['--servers', 'nats://a:4222', '--seed', 's', '--ca', 'c', '--password', 'x']), /Unknown option '--password'/);
});

test('the subject filter: both failover subjects on a server that takes several filters, the pool events on NATS 2.9', () => {
  assert.deepEqual(FAILOVER_SUBJECTS, ['tandem.evt.pool.*.failed-over', 'tandem.evt.pool.*.failover-failed']);
  assert.deepEqual(consumerFilter('2.10.22'), FAILOVER_SUBJECTS);
  assert.deepEqual(consumerFilter('3.0.0'), FAILOVER_SUBJECTS);
  assert.equal(consumerFilter('2.9.10'), POOL_EVENTS);
  assert.equal(consumerFilter(undefined), POOL_EVENTS);
  for (const s of [subjectFor(Events.poolFailedOver, 'tank'), subjectFor(Events.poolFailoverFailed, 'tank'), subjectFor(Events.poolChanged, 'tank')])
    assert.match(s, /^tandem\.evt\.pool\.[^.]+\.[^.]+$/);
});

test('an envelope parsed with the contracts: failovers read, other events skipped, unknown fields dropped, a broken one refused', () => {
  const f = parseFailover(subjectFor(Events.poolFailedOver, 'tank'), bytes({ ...failedOver, later: 1, data: { ...failedOver.data, newField: 'x' } }));
  assert.equal(f?.kind, 'failed-over');
  assert.equal((f?.event.data as { to: string }).to, 'node-b');
  assert.equal('newField' in (f?.event.data as object), false);
  assert.equal(parseFailover(subjectFor(Events.poolFailoverFailed, 'tank'), bytes(failoverFailed))?.kind, 'failover-failed');
  assert.equal(parseFailover(subjectFor(Events.poolChanged, 'tank'), bytes({ ...failedOver, schema: Events.poolChanged.schema, data: { pool: {} } })), null);
  assert.equal(parseFailover(subjectFor(Events.poolFailedOver, 'tank'), bytes({ ...failedOver, schema: 'tandem.pool.failed-over/2' })), null, 'a version it does not know');
  assert.throws(() => parseFailover(subjectFor(Events.poolFailedOver, 'tank'), bytes({ ...failedOver, data: { from: 'node-a' } })), /to/);
  assert.throws(() => parseFailover(subjectFor(Events.poolFailedOver, 'tank'), new TextEncoder().encode('{')), SyntaxError);
});

test('one line per failover', () => {
  const ok = parseFailover(subjectFor(Events.poolFailedOver, 'tank'), bytes(failedOver)) as Failover;
  assert.equal(formatFailover(ok), `${AT}  tank  failed over node-a -> node-b  (node-down, 4.58 s, epoch 7, trace 4bf92f3577b34da6a3ce929d0e0e4736)`);
  const untraced = parseFailover(subjectFor(Events.poolFailedOver, 'tank'), bytes({ ...failedOver, data: { ...failedOver.data, traceId: null } })) as Failover;
  assert.equal(formatFailover(untraced), `${AT}  tank  failed over node-a -> node-b  (node-down, 4.58 s, epoch 7)`);
  const failed = parseFailover(subjectFor(Events.poolFailoverFailed, 'tank'), bytes(failoverFailed)) as Failover;
  assert.equal(formatFailover(failed), `${AT}  tank  failover FAILED from node-a: no node can run it`);
});

test('followFailovers: an ordered consumer on the events stream from a day ago, filtered; failovers to the callback, the rest skipped', async () => {
  const asked: { stream: string; opts: Record<string, unknown> }[] = [];
  let closed = false;
  const messages = [
    { subject: subjectFor(Events.poolChanged, 'tank'), data: bytes({ ...failedOver, schema: Events.poolChanged.schema, data: { pool: {} } }) },
    { subject: subjectFor(Events.poolFailedOver, 'tank'), data: bytes(failedOver) },
    { subject: subjectFor(Events.poolFailedOver, 'vault'), data: bytes({ ...failedOver, data: {} }) },
    { subject: subjectFor(Events.poolFailoverFailed, 'tank'), data: bytes(failoverFailed) },
  ];
  const nc = {
    info: { version: '2.9.10' },
    jetstream: () => ({
      consumers: {
        get: async (stream: string, opts: Record<string, unknown>) => {
          asked.push({ stream, opts });
          return {
            consume: async () => ({
              async *[Symbol.asyncIterator]() {
                yield* messages;
              },
              close: async () => {
                closed = true;
              },
            }),
          };
        },
      },
    }),
  } as unknown as NatsConnection;
  const seen: string[] = [];
  const errors: string[] = [];
  const before = Date.now();
  const following = await followFailovers(nc, (f) => seen.push(`${f.kind} ${f.event.entity.id}`), { onError: (_e, subject) => errors.push(subject) });
  await following.done;
  await following.stop();
  assert.deepEqual(seen, ['failed-over tank', 'failover-failed tank']);
  assert.deepEqual(errors, [subjectFor(Events.poolFailedOver, 'vault')]);
  assert.equal(asked.length, 1);
  assert.equal(asked[0].stream, EVENTS_STREAM.name);
  assert.equal(asked[0].opts.filterSubjects, POOL_EVENTS);
  const start = Date.parse(asked[0].opts.opt_start_time as string);
  assert.ok(start >= before - DAY_MS - 1000 && start <= Date.now() - DAY_MS, 'from a day ago');
  assert.ok(closed, 'stop closes the consumer');
});
