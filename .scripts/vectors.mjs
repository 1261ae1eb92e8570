#!/usr/bin/env node
// `npm run vectors`: regenerates packages/core/vectors/*.json (deterministic; commit the result).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from './lib/bundle.mjs';

const entry = fileURLToPath(new URL('../packages/core/scripts/generate-vectors.ts', import.meta.url));
const out = fileURLToPath(new URL('../packages/core/.tmp/generate-vectors.mjs', import.meta.url));
await bundleForNode(entry, out);
const r = spawnSync(process.execPath, [out], { stdio: 'inherit' });
process.exit(r.status ?? 1);
