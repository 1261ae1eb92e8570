#!/usr/bin/env node
// Runs one of this folder's .ts programs on Node 20 (which cannot run .ts): bundles it with the
// repository's bundler into .tmp/, then runs it with this process's stdio and environment.
//
//   node examples/reference-gate/run.mjs gate-device.ts
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from '../../.scripts/lib/bundle.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [entry = 'gate-device.ts', ...args] = process.argv.slice(2);
const outfile = join(here, '.tmp', `${basename(entry, '.ts')}-${process.pid}.mjs`);
await bundleForNode(resolve(here, entry), outfile);
const child = spawn(process.execPath, [outfile, ...args], { stdio: 'inherit' });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  rmSync(outfile, { force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
