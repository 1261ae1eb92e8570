#!/usr/bin/env node
// Launches the reference verifier harness: bundles harness.ts for Node 20 (which cannot run .ts)
// into .tmp/ with the repository's bundler, then runs it with this process's stdio.
//
//   node examples/verifier-harness/run.mjs            # JSON lines on stdin/stdout
//   node examples/verifier-harness/run.mjs --http 7000
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBundled } from '../../.scripts/lib/run-bundled.mjs';

await runBundled(dirname(fileURLToPath(import.meta.url)), 'harness.ts', process.argv.slice(2));
