import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { eventCatalogueMarkdown } from '@tandem/contracts';

const out = resolve(__dirname, '..', '..', 'docs', 'events.md');
writeFileSync(out, eventCatalogueMarkdown());
process.stdout.write(`wrote ${out}\n`);
