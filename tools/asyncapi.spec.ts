import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { EVENT_ENVELOPE_SCHEMA_ID, EVENT_EXAMPLES, Events, eventSchemaFile, eventSchemaId, subjectFor, type EventDefinition } from '@tandem/contracts';
import { DOCS, integratorDocs, schemaFilesPresent } from './asyncapi';

const definitions = Object.values(Events) as EventDefinition<unknown>[];

test('docs/asyncapi.yaml and docs/schemas are what the generator writes now (npm run docs:asyncapi)', () => {
  const files = integratorDocs();
  for (const [path, text] of files) assert.equal(readFileSync(join(DOCS, path), 'utf8'), text, `docs/${path} is out of date: npm run docs:asyncapi`);
  assert.deepEqual(schemaFilesPresent().sort(), [...files.keys()].filter((p) => p.startsWith('schemas')).sort(), 'no schema file of an event gone from the catalogue');
});

test('docs/asyncapi.yaml is a valid AsyncAPI 3.0 document with a channel, a receive operation and a message per event', async () => {
  const { document, diagnostics } = await new Parser().parse(readFileSync(join(DOCS, 'asyncapi.yaml'), 'utf8'));
  // 0 error, 1 warning; 2 (information) and 3 (hint) are advice, e.g. that AsyncAPI 3.1 exists
  const problems = diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code} at ${d.path.join('/')}: ${d.message}`);
  assert.deepEqual(problems, []);
  assert.ok(document, 'the parser made a document');
  assert.equal(document.version(), '3.0.0');
  assert.equal(document.channels().length, definitions.length);
  for (const [name, def] of Object.entries(Events) as [string, EventDefinition<unknown>][]) {
    const channel = document.channels().get(name);
    assert.ok(channel, `channel ${name}`);
    // the id is the channel's one parameter: in its place, the subject the services publish to
    const [param] = channel.parameters().all();
    assert.equal(channel.address()?.replace(`{${param.id()}}`, 'tank'), subjectFor(def, 'tank'));
    const [message] = channel.messages().all();
    assert.equal(message.name(), def.schema);
    assert.equal(message.payload()?.properties()?.schema?.const(), def.schema);
    assert.ok(message.payload()?.properties()?.data, `${name}'s payload has the event's data`);
    assert.ok(
      document
        .operations()
        .all()
        .some(
          (op) =>
            op.action() === 'receive' &&
            op
              .channels()
              .all()
              .some((c) => c.id() === name),
        ),
      `an operation receives ${name}`,
    );
  }
  const [server] = document.servers().all();
  assert.equal(server.protocol(), 'nats');
  assert.equal(server.security()[0]?.all()[0]?.scheme().type(), 'asymmetricEncryption');
});

test('every event has its own schema file with an $id, and no object refuses fields it does not know', () => {
  const schemas = [...integratorDocs()].filter(([p]) => p.startsWith('schemas')).map(([p, text]) => [p, JSON.parse(text)] as const);
  const ids = schemas.map(([, s]) => s.$id as string);
  assert.equal(new Set(ids).size, ids.length, 'the $ids are unique');
  assert.ok(ids.includes(EVENT_ENVELOPE_SCHEMA_ID));
  // each a valid JSON Schema (draft-07) that a strict validator compiles
  const ajv = addFormats(new Ajv({ strict: true }));
  for (const [p, s] of schemas) assert.doesNotThrow(() => ajv.compile(s), p);
  for (const def of definitions) assert.equal(schemas.find(([p]) => p === join('schemas', eventSchemaFile(def)))?.[1].$id, eventSchemaId(def), def.schema);
  assert.equal(eventSchemaFile(Events.poolFailedOver), 'events/pool.failed-over.v1.json');
  // a consumer ignores unknown fields: no schema may say `additionalProperties: false`
  const closed = (node: unknown, at: string): string[] =>
    node && typeof node === 'object' ? Object.entries(node).flatMap(([k, v]) => (k === 'additionalProperties' && v === false ? [at] : closed(v, `${at}/${k}`))) : [];
  assert.deepEqual(
    schemas.flatMap(([p, s]) => closed(s, p)),
    [],
  );
  assert.deepEqual(closed(parse(readFileSync(join(DOCS, 'asyncapi.yaml'), 'utf8')), 'asyncapi.yaml'), []);
});

test('the schema files accept what the contracts accept — fields they do not list included — and refuse what they refuse', () => {
  const ajv = new Ajv({ strict: true, allErrors: true });
  addFormats(ajv);
  const schema = (path: string) => JSON.parse(readFileSync(join(DOCS, 'schemas', path), 'utf8'));
  const failedOver = ajv.compile(schema(eventSchemaFile(Events.poolFailedOver)));
  const envelope = ajv.compile(schema('event-envelope.json'));
  const event = EVENT_EXAMPLES.poolFailedOver;
  assert.ok(ajv.validate(schema(eventSchemaFile(Events.poolFailoverFailed)), EVENT_EXAMPLES.poolFailoverFailed), 'the other example');
  const later = { ...event, region: 'eu', data: { ...event.data, newField: 1, timings: { ...event.data.timings, dnsMs: 3 } } };
  for (const e of [event, later]) {
    assert.ok(Events.poolFailedOver.data.safeParse(e.data).success, 'the contract accepts it');
    assert.ok(failedOver(e), ajv.errorsText(failedOver.errors));
    assert.ok(envelope(e), ajv.errorsText(envelope.errors));
  }
  for (const bad of [
    { ...event, data: { ...event.data, to: undefined } },
    { ...event, data: { ...event.data, reason: 'bored' } },
    { ...event, schema: 'tandem.pool.failed-over/2' },
    { ...event, at: 'yesterday' },
  ]) {
    assert.equal(failedOver(JSON.parse(JSON.stringify(bad))), false, JSON.stringify(bad));
  }
});
