/**
 * An integrator's consumer of Tandem's events: prints one line per automatic failover of an HA
 * pool (`tandem.pool.failed-over` and `tandem.pool.failover-failed`), first those of the last
 * day (replayed from the events stream), then each new one as it happens.
 *
 *   node -r ./tools/register.js dist/examples/follow-failovers.js \
 *     --servers nats://10.77.2.11:4222,nats://10.77.2.12:4222 --seed integrator.seed --ca ca.pem
 *
 * It needs no more than the integrator's NATS identity allows (`integratorPermissions()`): the
 * stream's info, and an ordered consumer on it (made, pulled from, deleted) — an ephemeral
 * consumer with a subject filter and a start time, which the client makes again from where it
 * left off if it loses it. Nothing is acknowledged; the server drops the consumer by itself a few
 * minutes after the client has gone.
 *
 * Its only Tandem dependency is `@tandem/contracts` (the subjects, the stream, the event schemas).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connect, credsAuthenticator, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import type { z } from 'zod';
import { EVENTS_STREAM, Events, eventEnvelopeSchema, eventWildcard, type EventEnvelope } from '@tandem/contracts';

export type FailedOver = z.infer<typeof Events.poolFailedOver.data>;
export type FailoverFailed = z.infer<typeof Events.poolFailoverFailed.data>;
/** One failover, its envelope parsed with the contracts' schemas. */
export type Failover = { kind: 'failed-over'; event: EventEnvelope<FailedOver> } | { kind: 'failover-failed'; event: EventEnvelope<FailoverFailed> };

export const DAY_MS = 24 * 3600 * 1000;
/** The two events, of every pool. */
export const FAILOVER_SUBJECTS = [eventWildcard('pool', Events.poolFailedOver.verb), eventWildcard('pool', Events.poolFailoverFailed.verb)];
/** Every event of every pool: one filter that holds both (a server before 2.10 takes one filter only). */
export const POOL_EVENTS = 'tandem.evt.pool.*.*';

/** The consumer's subject filter: both subjects where the server takes several filters (NATS 2.10), else the pool events (the rest dropped here). */
export function consumerFilter(serverVersion: string | undefined): string | string[] {
  const [major, minor] = (serverVersion ?? '0.0').split('.').map(Number);
  return major > 2 || (major === 2 && minor >= 10) ? FAILOVER_SUBJECTS : POOL_EVENTS;
}

/**
 * The failover a message of the events stream tells, or null when it tells another event (or
 * a version of these this consumer does not know). A message on a failover subject that does not
 * parse is an error. Fields the schemas do not list are dropped, never refused: events may gain
 * fields within a version.
 */
export function parseFailover(subject: string, payload: Uint8Array): Failover | null {
  const verb = subject.slice(subject.lastIndexOf('.') + 1);
  if (verb !== Events.poolFailedOver.verb && verb !== Events.poolFailoverFailed.verb) return null;
  const envelope = eventEnvelopeSchema.parse(JSON.parse(new TextDecoder().decode(payload)));
  if (envelope.schema === Events.poolFailedOver.schema) return { kind: 'failed-over', event: { ...envelope, data: Events.poolFailedOver.data.parse(envelope.data) } };
  if (envelope.schema === Events.poolFailoverFailed.schema) return { kind: 'failover-failed', event: { ...envelope, data: Events.poolFailoverFailed.data.parse(envelope.data) } };
  return null;
}

/** One line per failover: when, which pool, from and to, why, how long. */
export function formatFailover(f: Failover): string {
  const { at, entity } = f.event;
  if (f.kind === 'failover-failed') return `${at}  ${entity.id}  failover FAILED from ${f.event.data.from}: ${f.event.data.reason}`;
  const d = f.event.data;
  const trace = d.traceId ? `, trace ${d.traceId}` : '';
  return `${at}  ${entity.id}  failed over ${d.from} -> ${d.to}  (${d.reason}, ${(d.timings.totalMs / 1000).toFixed(2)} s, epoch ${d.epoch}${trace})`;
}

export interface FollowOptions {
  /** Replay from here (default: a day ago). */
  since?: Date;
  /** A message on a failover subject that did not parse. */
  onError?: (err: Error, subject: string) => void;
}

export interface Following {
  /** Stops following (the ordered consumer goes with it). */
  stop(): Promise<void>;
  /** Settles when following ends: stopped, or the connection closed. */
  done: Promise<void>;
}

/** Calls `onFailover` for each failover since `since`, in the stream's order, then for each new one. */
export async function followFailovers(nc: NatsConnection, onFailover: (f: Failover) => void, opts: FollowOptions = {}): Promise<Following> {
  const since = opts.since ?? new Date(Date.now() - DAY_MS);
  const consumer = await nc.jetstream().consumers.get(EVENTS_STREAM.name, { filterSubjects: consumerFilter(nc.info?.version), opt_start_time: since.toISOString() });
  const messages = await consumer.consume();
  const done = (async () => {
    for await (const m of messages) {
      let f: Failover | null;
      try {
        f = parseFailover(m.subject, m.data);
      } catch (err) {
        opts.onError?.(err as Error, m.subject);
        continue;
      }
      if (f) onFailover(f);
    }
  })();
  return {
    stop: async () => {
      await messages.close();
      await done;
    },
    done,
  };
}

export interface Arguments {
  servers: string[];
  /** An nkey seed file (`SU…`, Tandem's integrator identity) or a NATS credentials file (JWT and seed). */
  auth: { seed: string } | { creds: string };
  /** The cluster's CA (its ca.pem): the servers' certificates are checked against it. */
  ca: string;
  sinceHours: number;
}

export const USAGE = 'usage: follow-failovers --servers nats://HOST:4222[,…] (--seed FILE | --creds FILE) --ca FILE [--since-hours 24]';

/** The command line, or an error that says what is wrong with it. */
export function parseArguments(argv: string[]): Arguments {
  const { values } = parseArgs({
    args: argv,
    options: { servers: { type: 'string', multiple: true }, seed: { type: 'string' }, creds: { type: 'string' }, ca: { type: 'string' }, 'since-hours': { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const servers = (values.servers ?? []).flatMap((s) => s.split(',')).filter((s) => s.length > 0);
  if (!servers.length) throw new Error(`--servers is missing; ${USAGE}`);
  if (!!values.seed === !!values.creds) throw new Error(`give either --seed or --creds; ${USAGE}`);
  if (!values.ca) throw new Error(`--ca is missing (the servers speak TLS only); ${USAGE}`);
  const sinceHours = values['since-hours'] === undefined ? 24 : Number(values['since-hours']);
  if (!Number.isFinite(sinceHours) || sinceHours < 0) throw new Error(`--since-hours ${values['since-hours']} is not a number of hours`);
  return { servers, auth: values.seed ? { seed: values.seed } : { creds: values.creds! }, ca: values.ca, sinceHours };
}

/** NATS connection options for the arguments (reads the files). */
export function connectionOptions(a: Arguments): ConnectionOptions {
  const authenticator = 'seed' in a.auth ? nkeyAuthenticator(new TextEncoder().encode(readFileSync(a.auth.seed, 'utf8').trim())) : credsAuthenticator(readFileSync(a.auth.creds));
  return { servers: a.servers, authenticator, tls: { ca: readFileSync(a.ca, 'utf8') }, name: 'tandem-follow-failovers', maxReconnectAttempts: -1 };
}

async function main(): Promise<void> {
  let args: Arguments;
  try {
    args = parseArguments(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(64);
  }
  const nc = await connect(connectionOptions(args));
  const following = await followFailovers(nc, (f) => process.stdout.write(`${formatFailover(f)}\n`), {
    since: new Date(Date.now() - args.sinceHours * 3600 * 1000),
    onError: (err, subject) => process.stderr.write(`${subject}: not a failover this consumer can read: ${err.message}\n`),
  });
  const stop = () => void following.stop().finally(() => nc.close());
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await Promise.race([following.done, nc.closed()]);
  await nc.close();
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`follow-failovers: ${err.message}\n`);
    process.exit(1);
  });
}
