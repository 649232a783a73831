import type { z } from 'zod';
import { Events, eventEnvelopeSchema, type EventDefinition, type EventEnvelope } from './events';
import { EVENT_ENTITY_IDS, contractJsonSchema, eventSubjectPattern } from './catalogue';
import { integratorPermissions } from './nats-access';
import { EVENTS_STREAM } from './streams';

/**
 * What integrators read, generated from the contracts (`npm run docs:asyncapi` writes it under
 * docs/, and a unit test keeps the files equal to it): an AsyncAPI 3.0 document of every event,
 * and one JSON Schema per event and for the envelope.
 */

type JsonSchema = Record<string, unknown>;

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
/** The port of every NATS server's clients (deploy/nats.conf). */
const NATS_CLIENT_PORT = 4222;

/** The `$id` of an event's schema: the envelope's `schema` value as a URN (`urn:tandem:schema:tandem.pool.failed-over/1`). */
export function eventSchemaId(def: EventDefinition<unknown>): string {
  return `urn:tandem:schema:${def.schema}`;
}
export const EVENT_ENVELOPE_SCHEMA_ID = 'urn:tandem:schema:event-envelope';

/** An event's schema file under docs/schemas: `events/<entity>.<verb>.v<N>.json`. */
export function eventSchemaFile(def: EventDefinition<unknown>): string {
  const version = def.schema.slice(def.schema.lastIndexOf('/') + 1);
  return `events/${def.entity}.${def.verb}.v${version}.json`;
}
export const EVENT_ENVELOPE_SCHEMA_FILE = 'event-envelope.json';

/** Examples of events, shown with their messages in the AsyncAPI document (and valid by their schemas: a unit test checks). */
export const EVENT_EXAMPLES: { readonly [N in 'poolFailedOver' | 'poolFailoverFailed']: EventEnvelope<z.infer<(typeof Events)[N]['data']>> } = {
  poolFailedOver: {
    schema: Events.poolFailedOver.schema,
    id: 'b3f1c2d4-5e6f-4a1b-8c2d-3e4f5a6b7c8d',
    clusterId: 'tandem',
    at: '2026-12-04T10:00:04.580Z',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    source: 'resource-manager@node-b',
    entity: { kind: 'pool', id: 'tank' },
    data: {
      from: 'node-a',
      to: 'node-b',
      reason: 'node-down',
      epoch: 7,
      timings: { detectionMs: 2500, fenceWaitMs: 1000, releaseMs: 0, importMs: 800, ipsMs: 200, sharesMs: 80, totalMs: 4580 },
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    },
  },
  poolFailoverFailed: {
    schema: Events.poolFailoverFailed.schema,
    id: 'c4a2d3e5-6f70-4b2c-9d3e-4f5a6b7c8d9e',
    clusterId: 'tandem',
    at: '2026-12-04T10:00:04.100Z',
    traceparent: null,
    source: 'resource-manager@node-b',
    entity: { kind: 'pool', id: 'vault' },
    data: { from: 'node-a', reason: 'no online node can run it' },
  },
};

const events = (): [string, EventDefinition<unknown>][] => Object.entries(Events) as [string, EventDefinition<unknown>][];

/** The envelope with the parts one event fixes: its `schema`, its entity kind, its `data`. */
function eventMessageSchema(def: EventDefinition<unknown>): JsonSchema {
  const envelope = contractJsonSchema(eventEnvelopeSchema) as { properties: Record<string, JsonSchema>; required: string[] };
  const entity = envelope.properties.entity as { properties: Record<string, JsonSchema> };
  return {
    title: def.schema,
    description: `${def.description}.`,
    ...envelope,
    // the envelope's data is anything; an event's is its payload, always there
    required: [...envelope.required, 'data'],
    properties: {
      ...envelope.properties,
      schema: { type: 'string', const: def.schema },
      entity: { ...entity, properties: { kind: { type: 'string', const: def.entity }, id: { type: 'string', description: EVENT_ENTITY_IDS[def.entity].description } } },
      data: contractJsonSchema(def.data),
    },
  };
}

/** Every schema file under docs/schemas, by its path there: the envelope's, and each event's. */
export function eventSchemaFiles(): Map<string, JsonSchema> {
  const files = new Map<string, JsonSchema>();
  files.set(EVENT_ENVELOPE_SCHEMA_FILE, {
    $schema: DRAFT_07,
    $id: EVENT_ENVELOPE_SCHEMA_ID,
    title: 'Tandem event envelope',
    description: "Every Tandem event: `schema` names the payload and its version, `data` is the payload (see each event's own schema).",
    ...contractJsonSchema(eventEnvelopeSchema),
  });
  for (const [, def] of events()) files.set(eventSchemaFile(def), { $schema: DRAFT_07, $id: eventSchemaId(def), ...eventMessageSchema(def) });
  return files;
}

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The AsyncAPI 3.0 document of Tandem's events, as an integrator receives them. `version`: the product's (the root package.json's). */
export function asyncApiDocument(version: string): Record<string, unknown> {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const [name, def] of events()) {
    const id = EVENT_ENTITY_IDS[def.entity];
    channels[name] = {
      address: eventSubjectPattern(def, (p) => `{${p}}`),
      title: def.schema,
      description: `${def.description}.`,
      parameters: { [id.name]: { description: `${id.description}.` } },
      messages: { [name]: { $ref: `#/components/messages/${name}` } },
    };
    operations[`receive${capitalized(name)}`] = {
      action: 'receive',
      channel: { $ref: `#/channels/${name}` },
      summary: `${def.schema}, live on the subject or replayed from the stream ${EVENTS_STREAM.name}`,
      messages: [{ $ref: `#/channels/${name}/messages/${name}` }],
    };
    const { title: _title, description: _description, ...payload } = eventMessageSchema(def);
    messages[name] = {
      name: def.schema,
      title: def.schema,
      summary: `${def.description}.`,
      contentType: 'application/json',
      headers: {
        type: 'object',
        properties: {
          'Nats-Msg-Id': { type: 'string', description: "The envelope's id: the stream drops a message sent again with the same id (within its duplicate window)" },
          traceparent: { type: 'string', description: 'W3C trace context of the action, when it was traced (also in the envelope)' },
        },
      },
      payload,
      ...(name in EVENT_EXAMPLES ? { examples: [{ name: 'example', payload: EVENT_EXAMPLES[name as keyof typeof EVENT_EXAMPLES] }] } : {}),
    };
  }
  const days = Math.round(EVENTS_STREAM.maxAgeSeconds / 86400);
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Tandem events',
      version,
      description: [
        'Every state change of a Tandem cluster is an event: a versioned JSON envelope published on NATS to `tandem.evt.<entity>.<id>.<verb>`',
        `and kept in the JetStream stream \`${EVENTS_STREAM.name}\` (subjects \`${EVENTS_STREAM.subjects.join(', ')}\`, ${days} days).`,
        'Follow them live with a core NATS subscription, or replay and follow them with an ordered (ephemeral) consumer on the stream',
        '(a subject filter and a start time or sequence). `schema` names each payload and its version; the same schemas are in',
        'docs/schemas/ (one JSON Schema file per event) and in the package `@tandem/contracts` (zod).',
        '',
        'Within a version, fields may be added to `data` and to the envelope: ignore the fields you do not know (every object leaves',
        '`additionalProperties` open). A field removed, renamed, retyped, given another meaning or made optional, or an enum given a new',
        'value, makes a new version (a new `schema` value). Generated from libs/contracts by `npm run docs:asyncapi`; do not edit.',
      ].join('\n'),
    },
    defaultContentType: 'application/json',
    servers: {
      node: {
        host: `{node}:${NATS_CLIENT_PORT}`,
        protocol: 'nats',
        title: "A storage node's NATS server",
        description: [
          `Any storage node's NATS server (client URL \`nats://NODE:${NATS_CLIENT_PORT}\`); the servers form one JetStream cluster, so any one`,
          "serves every event. Only TLS: the server presents a certificate of the cluster's CA (`tandem nats certs`), which the client must",
          "check against that CA's ca.pem; a plain connection is closed. Clients authenticate with an nkey (see the security scheme); there",
          'are no anonymous connections. deploy/nats.conf has the server listen on 127.0.0.1 only: from another host, reach it through',
          'an address the configuration listens on (or a tunnel to the node).',
        ].join('\n'),
        variables: { node: { description: "A storage node's address the NATS server listens on", examples: ['127.0.0.1', '10.77.2.11'] } },
        security: [{ $ref: '#/components/securitySchemes/integratorNkey' }],
      },
    },
    channels,
    operations,
    components: {
      messages,
      securitySchemes: {
        integratorNkey: {
          type: 'asymmetricEncryption',
          description: [
            "NATS nkey authentication: the client signs the server's nonce with its Ed25519 seed (a file holding `SU…`); the servers know",
            "only the public key (`U…`). The integrator's identity (`tandem nats authorization … --integrator PUBLIC_KEY`) is read-only:",
            `it may subscribe to \`tandem.evt.>\` and its inbox, and on the JetStream API only read the stream \`${EVENTS_STREAM.name}\``,
            '(stream info, direct and message gets) and make, read, pull from, acknowledge and delete consumers on it. It can publish',
            'no event and ask no operation. `x-tandem-nats-permissions` lists the permissions exactly as the servers are given them.',
          ].join('\n'),
          'x-tandem-nats-permissions': integratorPermissions(),
        },
      },
    },
  };
}
