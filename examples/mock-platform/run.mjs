#!/usr/bin/env node
// Runs pay-with-a-demo-card.ts on Node 20 (which cannot run .ts): bundles it with the repository's
// bundler into .tmp/, then runs it with this process's stdio.
//
//   node examples/mock-platform/run.mjs      # prints: 201 success 150
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBundled } from '../../.scripts/lib/run-bundled.mjs';

await runBundled(dirname(fileURLToPath(import.meta.url)), 'pay-with-a-demo-card.ts', process.argv.slice(2));
