import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { eventCatalogue, eventCatalogueMarkdown } from './catalogue';
import { Events } from './events';

test('the catalogue lists every event with a payload schema', () => {
  const c = eventCatalogue();
  assert.equal(c.length, Object.keys(Events).length);
  for (const e of c) {
    assert.match(e.subject, /^tandem\.evt\.[a-z]+\.<[a-zA-Z]+>\.[a-z-]+$/);
    assert.equal(typeof e.payload, 'object');
  }
  const poolExported = c.find((e) => e.schema === 'tandem.pool.exported/1') as { payload: { required?: string[] } };
  assert.deepEqual(poolExported.payload.required?.sort(), ['forced', 'node']);
});

test('docs/events.md is generated from the catalogue and up to date (npm run docs:events)', () => {
  const file = resolve(__dirname, '..', '..', '..', '..', 'docs', 'events.md');
  assert.equal(readFileSync(file, 'utf8'), eventCatalogueMarkdown());
});

test('event payloads leave additionalProperties open (consumers ignore fields they do not know)', () => {
  const text = JSON.stringify(eventCatalogue());
  assert.doesNotMatch(text, /"additionalProperties":false/);
  assert.match(eventCatalogueMarkdown(), /must ignore the fields it does not know/);
});
