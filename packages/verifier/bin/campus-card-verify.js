#!/usr/bin/env node
// `campus-card-verify`, the command of src/cli.ts. An installed package runs its build, dist/cli.js.
// In the campus-card repository, where dist/ is built and not committed, it runs src/cli.ts
// bundled on the fly (.scripts/lib/source-bin.mjs): the command works right after `npm install`,
// with no build, and never runs a stale dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/cli.ts', import.meta.url);
const fromSource = new URL('../../../.scripts/lib/source-bin.mjs', import.meta.url);
if (existsSync(source) && existsSync(fromSource)) {
  const { runSource } = await import(fromSource.href);
  await runSource(source, 'campus-card-verify');
} else {
  // the CLI runs when it is the main module (it compares process.argv[1] with its own file)
  process.argv[1] = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
  await import('../dist/cli.js');
}
