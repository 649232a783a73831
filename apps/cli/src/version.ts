import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The product's version: the root package.json's, the nearest above this file named tandem. */
export function productVersion(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tandem' && pkg.version) return pkg.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
