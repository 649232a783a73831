// Resolves the workspace's @tandem/* import paths to the compiled output in dist/.
// Loaded with `node -r ./tools/register.js` by every service, CLI and test.
'use strict';
const path = require('node:path');
const tsconfigPaths = require('tsconfig-paths');
const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
tsconfigPaths.register({
  baseUrl: dist,
  paths: { '@tandem/*': ['libs/*/src/index.js'] },
});
require('reflect-metadata');
