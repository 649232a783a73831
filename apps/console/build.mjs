// Builds the web console into static files the api-gateway serves at / (dist/apps/console/public):
// one ES module bundle (preact, the view logic, the contracts' paths), its stylesheet and page.
// Type checking is tsc's (apps/console/tsconfig.json, run first by `npm run build`).
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(root, 'dist', 'apps', 'console', 'public');
mkdirSync(out, { recursive: true });

// The contracts import node:net (isIP, to check addresses) and node:crypto (heartbeat packets,
// never called by the console): the browser gets a small isIP and nothing else.
const nodeShims = {
  name: 'node-shims',
  setup(b) {
    b.onResolve({ filter: /^node:(net|crypto)$/ }, (a) => ({ path: a.path, namespace: 'node-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'node-shim' }, (a) => ({
      contents:
        a.path === 'node:net'
          ? `export function isIPv4(s){return /^(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(\\.(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}$/.test(s)}
             export function isIPv6(s){try{return s.includes(':')&&new URL('http://['+s+']').hostname.length>0}catch{return false}}
             export function isIP(s){return isIPv4(s)?4:isIPv6(s)?6:0}`
          : `const no=()=>{throw new Error('not available in the browser')}; export const createHmac=no, hkdfSync=no, timingSafeEqual=no, randomBytes=no, createHash=no;`,
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: [join(here, 'src', 'browser', 'app.tsx')],
  outfile: join(out, 'console.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: join(here, 'tsconfig.json'),
  plugins: [nodeShims],
  logLevel: 'warning',
  legalComments: 'linked',
});
copyFileSync(join(here, 'src', 'static', 'index.html'), join(out, 'index.html'));
copyFileSync(join(here, 'src', 'static', 'console.css'), join(out, 'console.css'));
