#!/usr/bin/env node
// Launches the reference verifier harness: bundles harness.ts for Node 20 (which cannot run .ts)
// into .tmp/harness.mjs with the repository's bundler, then runs it with this process's stdio.
//
//   node examples/verifier-harness/run.mjs            # JSON lines on stdin/stdout
//   node examples/verifier-harness/run.mjs --http 7000
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForNode } from '../../.scripts/lib/bundle.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, '.tmp', `harness-${process.pid}.mjs`);
await bundleForNode(join(here, 'harness.ts'), outfile);
const child = spawn(process.execPath, [outfile, ...process.argv.slice(2)], { stdio: 'inherit' });
const forward = (signal) => child.kill(signal);
process.on('SIGTERM', forward);
process.on('SIGINT', forward);
child.on('exit', async (code, signal) => {
  const { rmSync } = await import('node:fs');
  rmSync(outfile, { force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
