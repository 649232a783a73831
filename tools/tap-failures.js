// Prints one line per failed test in node:test TAP files: "<tier>: <test name>: <first line of
// its error>". scripts/test-all prints these just before its totals, so the end of a long CI log
// names every failure (the full errors, with node logs, are higher up in the spec output).
// Usage: node tools/tap-failures.js <tier>=<file.tap> ...
'use strict';
const fs = require('node:fs');

for (const arg of process.argv.slice(2)) {
  const eq = arg.indexOf('=');
  const tier = arg.slice(0, eq);
  let lines;
  try {
    lines = fs.readFileSync(arg.slice(eq + 1), 'utf8').split('\n');
  } catch {
    continue;
  }
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)not ok \d+ - (.*)$/.exec(lines[i]);
    if (!m) continue;
    let failureType = '';
    let error = '';
    // the YAML block below it, up to its "..." line
    for (let j = i + 1; j < lines.length && lines[j].trim() !== '...'; j++) {
      const t = lines[j].trim();
      if (t.startsWith('failureType:')) failureType = t.slice('failureType:'.length).trim().replace(/^'|'$/g, '');
      if (t.startsWith('error:')) {
        const inline = t.slice('error:'.length).trim();
        if (inline && !/^[|>]-?$/.test(inline)) error = inline.replace(/^'|'$/g, '');
        else for (let k = j + 1; k < lines.length && !error; k++) error = lines[k].trim();
      }
    }
    if (failureType === 'subtestsFailed') continue; // a suite: its failed tests are listed themselves
    process.stdout.write(`[test] failed: ${tier}: ${m[2]}: ${error.slice(0, 300)}\n`);
  }
}
