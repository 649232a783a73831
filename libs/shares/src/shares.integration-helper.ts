/**
 * Test fixture for shares.integration-spec.ts: drives a ShareManager from inside a network
 * namespace (run as `ip netns exec NS node -r tools/register.js <this file> STATE_DIR [OPTS_JSON]`).
 * Requests are JSON lines on stdin ({id, method, args}); answers are JSON lines on stdout
 * ({id, result} or {id, error: {name, code, field, message}}). Exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { ProcessRunner } from '@tandem/host';
import { ShareError } from './errors';
import { ShareManager, ShareManagerOptions } from './share-manager';

const stateDir = process.argv[2];
const opts = JSON.parse(process.argv[3] ?? '{}') as ShareManagerOptions;
if (!stateDir) {
  process.stderr.write('usage: shares.integration-helper STATE_DIR [OPTS_JSON]\n');
  process.exit(2);
}
const manager = new ShareManager(new ProcessRunner(), stateDir, opts);

type Method = 'start' | 'stop' | 'list' | 'stopAll';
interface Request {
  id: number;
  method: Method;
  args: unknown[];
}

async function handle(req: Request): Promise<unknown> {
  switch (req.method) {
    case 'start':
      return manager.start(req.args[0] as Parameters<ShareManager['start']>[0]);
    case 'stop':
      return manager.stop(...(req.args as Parameters<ShareManager['stop']>));
    case 'list':
      return manager.list();
    case 'stopAll':
      return manager.stopAll();
    default:
      throw new Error(`unknown method ${String(req.method)}`);
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const req = JSON.parse(line) as Request;
  handle(req).then(
    (result) => process.stdout.write(JSON.stringify({ id: req.id, result: result ?? null }) + '\n'),
    (err: Error) => {
      const e = err instanceof ShareError ? { code: err.code, field: err.field } : {};
      process.stdout.write(JSON.stringify({ id: req.id, error: { name: err.name, message: err.message, ...e } }) + '\n');
    },
  );
});
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');
