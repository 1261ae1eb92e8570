#!/usr/bin/env node
// `npm start`: runs the mock platform's command, campus-card-mock, from source in the repository
// root, as `npx campus-card-mock` does in this repository (.scripts/lib/source-bin.mjs bundles
// packages/mock-server/src/cli.ts for Node 20, which cannot run .ts, and runs it in this process).
// PORT defaults to 8080; arguments after `npm start --` are passed to the CLI, e.g.
// `PORT=9000 npm start` or `npm start -- --help`.
import { repoRoot } from './lib/packages.mjs';
import { runSource } from './lib/source-bin.mjs';

process.chdir(repoRoot);
await runSource(new URL('../packages/mock-server/src/cli.ts', import.meta.url), 'campus-card-mock');
