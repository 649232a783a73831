import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { asyncApiDocument, eventSchemaFiles } from '@tandem/contracts';

/**
 * docs/asyncapi.yaml and docs/schemas/**, generated from libs/contracts (`npm run docs:asyncapi`;
 * tools/asyncapi.spec.ts keeps the committed files equal to what this writes).
 */
export const ROOT = resolve(__dirname, '..', '..');
export const DOCS = join(ROOT, 'docs');

/** The product's version: the root package.json's. */
export function productVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Every generated file, by its path under docs/, with its text. */
export function integratorDocs(): Map<string, string> {
  const files = new Map<string, string>();
  files.set(
    'asyncapi.yaml',
    `# generated from libs/contracts by \`npm run docs:asyncapi\`; do not edit\n${stringify(asyncApiDocument(productVersion()), { lineWidth: 0, aliasDuplicateObjects: false })}`,
  );
  for (const [path, schema] of eventSchemaFiles()) files.set(join('schemas', path), `${JSON.stringify(schema, null, 2)}\n`);
  return files;
}

/** The files under docs/schemas now (paths under docs/), generated or left over. */
export function schemaFilesPresent(): string[] {
  const dir = join(DOCS, 'schemas');
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join('schemas', e.parentPath.slice(dir.length), e.name));
  } catch {
    return [];
  }
}

if (require.main === module) {
  const files = integratorDocs();
  // an event gone from the catalogue takes its schema file with it
  for (const stale of schemaFilesPresent().filter((p) => !files.has(p))) rmSync(join(DOCS, stale));
  for (const [path, text] of files) {
    mkdirSync(dirname(join(DOCS, path)), { recursive: true });
    writeFileSync(join(DOCS, path), text);
  }
  process.stdout.write(`wrote docs/asyncapi.yaml and ${files.size - 1} schema files under docs/schemas\n`);
}
