import type { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { Events, type EventDefinition } from './events';
import { EVENTS_STREAM } from './streams';
import type { EntityKind } from './subjects';

export interface CatalogueEntry {
  name: string;
  schema: string;
  subject: string;
  description: string;
  payload: unknown;
}

/**
 * The JSON Schema of a contract's zod schema, as a reader should apply it: an object lists the
 * fields it has and leaves `additionalProperties` open (the contracts' own parse strips a field it
 * does not know, it does not refuse it), so a field added later to an event breaks no consumer.
 * Only a zod schema declared `.strict()` gets `additionalProperties: false`; no event's is.
 */
export function contractJsonSchema(schema: z.ZodTypeAny): Record<string, unknown> {
  const { $schema: _draft, ...rest } = zodToJsonSchema(schema, { $refStrategy: 'none', target: 'jsonSchema7', removeAdditionalStrategy: 'strict', allowedAdditionalProperties: undefined });
  return rest;
}

/** The id in an event's subject (`tandem.evt.<entity>.<id>.<verb>`), per entity kind: its name as a subject parameter, and what it is. */
export const EVENT_ENTITY_IDS: Readonly<Record<EntityKind, { name: string; description: string }>> = {
  node: { name: 'nodeId', description: 'The node the event is about (for up, suspect and down: the peer observed)' },
  pool: { name: 'pool', description: "The HA pool's name" },
  cluster: { name: 'clusterId', description: "The cluster's id (TANDEM_CLUSTER_ID, `tandem` by default)" },
  ip: { name: 'address', description: "The floating IP address, each '.' and ':' written as '_' (10_77_3_50)" },
  share: { name: 'share', description: "The share's name" },
  replication: { name: 'pool', description: "The replicated pool's name" },
};

/** An event's subject pattern, its id as `<name>` (`tandem.evt.pool.<pool>.failed-over`). */
export function eventSubjectPattern(def: EventDefinition<unknown>, id = (name: string) => `<${name}>`): string {
  return `tandem.evt.${def.entity}.${id(EVENT_ENTITY_IDS[def.entity].name)}.${def.verb}`;
}

/** The event catalogue for integrators: every event, its subject pattern and its payload's JSON Schema. */
export function eventCatalogue(): CatalogueEntry[] {
  return Object.entries(Events).map(([name, def]) => {
    const d = def as EventDefinition<unknown>;
    return {
      name,
      schema: d.schema,
      subject: eventSubjectPattern(d),
      description: d.description,
      payload: contractJsonSchema(d.data),
    };
  });
}

/** docs/events.md, generated from the catalogue (a unit test keeps the file in step). */
export function eventCatalogueMarkdown(): string {
  const lines = [
    '# Tandem events',
    '',
    '<!-- generated from libs/contracts/src/events.ts by `npm run docs:events`; do not edit -->',
    '',
    `Every event is published to JetStream (stream \`${EVENTS_STREAM.name}\`, subjects \`${EVENTS_STREAM.subjects.join(', ')}\`, kept ${Math.round(EVENTS_STREAM.maxAgeSeconds / 86400)} days) as a JSON envelope:`,
    '',
    '```json',
    '{ "schema": "tandem.pool.changed/1", "id": "<uuid, also the Nats-Msg-Id>", "clusterId": "tandem", "at": "<ISO time>",',
    '  "traceparent": "<W3C trace context or null>", "source": "<service>@<node>", "entity": { "kind": "pool", "id": "tank" }, "data": { } }',
    '```',
    '',
    "Subscribe live with core NATS on `tandem.evt.>` (or the API's `GET /api/v1/events`, Server-Sent Events), or replay history with a JetStream consumer on the stream. A schema never changes meaning: a new version gets a new `schema` value.",
    '',
    'Within a version, fields may be added to `data` and to the envelope; a consumer must ignore the fields it does not know (parse leniently, as the zod schemas of `@tandem/contracts` do: they drop unknown fields, never refuse them). The schemas below therefore leave `additionalProperties` open on every object: the fields listed are those a consumer can rely on. Any other change — a field removed, renamed, given another type or meaning, made optional, or an enum given a new value — makes a new version.',
    '',
    'The same schemas, and the subjects, are in `docs/asyncapi.yaml` (AsyncAPI 3.0) and, one JSON Schema file per event with the envelope, in `docs/schemas/` (`npm run docs:asyncapi`).',
    '',
  ];
  for (const e of eventCatalogue()) {
    lines.push(`## ${e.schema}`, '', e.description + '.', '', `Subject: \`${e.subject}\``, '', '```json', JSON.stringify(e.payload, null, 2), '```', '');
  }
  return lines.join('\n');
}
