#!/usr/bin/env node
// Runs one of this folder's .ts programs on Node 20 (which cannot run .ts): bundles it with the
// repository's bundler into .tmp/, then runs it with this process's stdio and environment.
//
//   node examples/reference-pos/run.mjs webhook-receiver.ts
//   node examples/reference-pos/run.mjs pos-device.ts
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBundled } from '../../.scripts/lib/run-bundled.mjs';

const [entry = 'webhook-receiver.ts', ...args] = process.argv.slice(2);
await runBundled(dirname(fileURLToPath(import.meta.url)), entry, args);
