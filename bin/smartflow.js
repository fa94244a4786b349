#!/usr/bin/env node
// The installed command. Runs the compiled CLI from dist/ (built by `npm install` through the
// prepare script); in a source checkout without a build it falls back to tsx, a dev dependency.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let cli;
if (existsSync(compiled)) {
  // Before anything else loads: start-up would otherwise grow V8's young generation to its maximum (src/core/young-generation.ts).
  const { holdYoungGeneration } = await import(new URL('../dist/core/young-generation.js', import.meta.url).href);
  holdYoungGeneration();
  cli = await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../src/cli.ts', import.meta.url).href);
}
process.exitCode = await cli.main(process.argv.slice(2));
