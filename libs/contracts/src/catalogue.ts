import { zodToJsonSchema } from 'zod-to-json-schema';
import { Events, type EventDefinition } from './events';
import { EVENTS_STREAM } from './streams';

export interface CatalogueEntry {
  name: string;
  schema: string;
  subject: string;
  description: string;
  payload: unknown;
}

/** The event catalogue for integrators: every event, its subject pattern and its payload's JSON Schema. */
export function eventCatalogue(): CatalogueEntry[] {
  return Object.entries(Events).map(([name, def]) => {
    const d = def as EventDefinition<unknown>;
    return {
      name,
      schema: d.schema,
      subject: `tandem.evt.${d.entity}.<${d.entity === 'cluster' ? 'clusterId' : 'id'}>.${d.verb}`,
      description: d.description,
      payload: zodToJsonSchema(d.data, { $refStrategy: 'none', target: 'jsonSchema7' }),
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
  ];
  for (const e of eventCatalogue()) {
    lines.push(`## ${e.schema}`, '', e.description + '.', '', `Subject: \`${e.subject}\``, '', '```json', JSON.stringify(e.payload, null, 2), '```', '');
  }
  return lines.join('\n');
}
