import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A secret file of the testbed (mode 0600, its directory 0700), made once with `make` and kept
 * from then on; gone with the testbed's root at `down`. Returns its path.
 */
export function secretFile(dir: string, name: string, make: () => string): string {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, make(), { mode: 0o600 });
  }
  return file;
}
