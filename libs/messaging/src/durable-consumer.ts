import { AckPolicy, DeliverPolicy, nanos, type ConsumerMessages, type NatsConnection } from 'nats';
import { eventEnvelopeSchema, type ConsumerDeclaration, type EventEnvelope } from '@tandem/contracts';

/**
 * How long each pull of a consumer waits (nats.js's `expires`; its idle heartbeat is half of it).
 * The library's 30 s default means a consumer whose stream leader died (its node powered off)
 * notices only after two missed heartbeats (30 s) and then retries every 30 s: a failover's
 * events would reach the activity log or a console a minute late. 5 s: noticed in 5 s, retried
 * every 5 s, at the cost of one small pull request per consumer every 5 s.
 */
export const CONSUME_EXPIRES_MS = 5_000;

/** Declare a durable consumer (idempotent: an existing one is kept). */
export async function provisionConsumer<T>(nc: NatsConnection, decl: ConsumerDeclaration<T>): Promise<void> {
  const jsm = await nc.jetstreamManager();
  await jsm.consumers
    .add(decl.stream, {
      durable_name: decl.durable,
      description: decl.description,
      filter_subject: decl.filterSubject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(decl.ackWaitMs),
      max_deliver: -1,
    })
    .catch((err) => {
      if (!/already in use|exists/i.test(String((err as Error).message))) throw err;
    });
}

/**
 * Read a durable consumer's events one by one: each is parsed (envelope, then payload with the
 * event's schema) and handed to `handle`; acknowledged after `handle` succeeded, delivered again
 * after `retryMs` when it failed (a transient error: the database is away), terminated when it does
 * not parse (it never will). `handle` must be idempotent (keyed on the event id): an event may come
 * twice. Returns a function that stops reading.
 */
export async function consumeEvents<T>(
  nc: NatsConnection,
  decl: ConsumerDeclaration<T>,
  handle: (envelope: EventEnvelope<T>) => Promise<void>,
  opts: { retryMs?: number; onMalformed?: (why: string) => void } = {},
): Promise<() => Promise<void>> {
  await provisionConsumer(nc, decl);
  const consumer = await nc.jetstream().consumers.get(decl.stream, decl.durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 100, expires: CONSUME_EXPIRES_MS });
  void (async () => {
    for await (const m of messages) {
      const env = eventEnvelopeSchema.safeParse(safeJson(m.data));
      let why: string | null = null;
      let parsed: EventEnvelope<T> | null = null;
      if (!env.success) why = 'not an event envelope';
      else if (env.data.schema !== decl.event.schema) why = `schema ${env.data.schema}, not ${decl.event.schema}`;
      else {
        const data = decl.event.data.safeParse(env.data.data);
        if (data.success) parsed = { ...env.data, data: data.data };
        else why = `payload: ${data.error.issues[0]?.path.join('.')}: ${data.error.issues[0]?.message}`;
      }
      if (!parsed) {
        opts.onMalformed?.(`${m.subject} #${m.seq}: ${why}`);
        m.term();
        continue;
      }
      try {
        await handle(parsed);
        m.ack();
      } catch {
        m.nak(opts.retryMs ?? 2_000);
      }
    }
  })();
  return async () => {
    await messages.close();
  };
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
